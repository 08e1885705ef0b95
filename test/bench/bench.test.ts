import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { QueueClient, StorageSharedKeyCredential } from '@azure/storage-queue';
import { azuriteAccount, azuriteAccountKey } from '../../local/azurite';
import { niceStep, renderBarChart } from '../../local/bench/chart';
import { startQueueProxy, TokenBucket } from '../../local/bench/queue-proxy';
import { runNode } from '../helpers/run-node';

// npm run bench's own logic (no timing asserted): the queue proxy's rate cap and sink, the chart.

describe('bench: token bucket', () => {
  it('lets a burst through, then makes each caller wait its turn (delay) or refuses (503)', () => {
    let now = 0;
    const bucket = new TokenBucket(10, 2, () => now);
    assert.deepEqual([bucket.reserve(), bucket.reserve(), bucket.reserve(), bucket.reserve()], [0, 0, 100, 200]);
    now = 300; // the debt of two tokens is paid back, one token is there again
    assert.equal(bucket.tryTake(), true);
    assert.equal(bucket.tryTake(), false);
    now = 10_000; // never more than the burst stored
    assert.equal(bucket.tryTake(), true);
    assert.equal(bucket.tryTake(), true);
    assert.equal(bucket.tryTake(), false);
  });

  it('refuses a rate or burst that cannot work', () => {
    assert.throws(() => new TokenBucket(0, 1), RangeError);
    assert.throws(() => new TokenBucket(10, 0.5), RangeError);
  });
});

describe('bench: queue proxy', () => {
  let upstream: Server;
  let seen: string[];
  let target: string;
  before(async () => {
    seen = [];
    upstream = createServer((req, res) => {
      seen.push(`${req.method ?? ''} ${req.url ?? ''}`);
      req.resume();
      req.on('end', () => res.writeHead(req.method === 'POST' ? 201 : 204).end());
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    target = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/${azuriteAccount}`;
  });
  after(() => new Promise<void>((resolve) => upstream.close(() => resolve())));

  const send = (endpoint: string, method: string, path: string): Promise<{ status: number; code: string | undefined }> =>
    new Promise((resolve, reject) => {
      const url = new URL(`${endpoint}${path}`);
      const req = request(url, { method, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, code: res.headers['x-ms-error-code'] as string | undefined }));
      });
      req.on('error', reject);
      req.end('<QueueMessage><MessageText>eA==</MessageText></QueueMessage>');
    });

  it('503 mode: messages over the rate get ServerBusy, other calls pass, every request waits the latency', async () => {
    const proxy = await startQueueProxy({ target, latencyMs: 20, messagesPerSecond: 5, overLimit: '503' });
    try {
      seen.length = 0;
      const started = performance.now();
      const answers = await Promise.all([1, 2, 3].map(() => send(proxy.endpoint, 'POST', '/q1/messages')));
      assert.ok(performance.now() - started >= 19, 'the latency was added');
      assert.deepEqual(answers.map((a) => a.status).sort(), [201, 503, 503]);
      assert.equal(answers.filter((a) => a.code === 'ServerBusy').length, 2);
      // Another queue has a bucket of its own; creating a queue is not a message.
      assert.equal((await send(proxy.endpoint, 'POST', '/q2/messages')).status, 201);
      assert.equal((await send(proxy.endpoint, 'PUT', '/q1')).status, 204);
      assert.deepEqual(seen, [`POST /${azuriteAccount}/q1/messages`, `POST /${azuriteAccount}/q2/messages`, `PUT /${azuriteAccount}/q1`]);
      assert.deepEqual({ ...proxy.counters, waitedMs: 0 }, { requests: 5, messages: 4, throttled: 2, waitedMs: 0 });
    } finally {
      await proxy.close();
    }
  });

  it('delay mode: every message goes through, the ones over the rate later', async () => {
    // 5 a second, a burst of 1: four at once wait about 0, 200, 400 and 600 ms (less as they arrive spread out).
    const proxy = await startQueueProxy({ target, messagesPerSecond: 5, overLimit: 'delay' });
    try {
      const answers = await Promise.all([1, 2, 3, 4].map(() => send(proxy.endpoint, 'POST', '/q3/messages')));
      assert.deepEqual(
        answers.map((a) => a.status),
        [201, 201, 201, 201],
      );
      assert.ok(proxy.counters.waitedMs >= 200, `waited ${proxy.counters.waitedMs} ms in all`);
    } finally {
      await proxy.close();
    }
  });

  it('sink: the queue client reads its made-up answer as a sent message, nothing reaches the upstream', async () => {
    const sink = await startQueueProxy({ target, sink: true });
    try {
      seen.length = 0;
      const client = new QueueClient(`${sink.endpoint}/sunk`, new StorageSharedKeyCredential(azuriteAccount, azuriteAccountKey));
      let connections = 0;
      const counted = (): void => {
        connections++;
      };
      subscribe('net.client.socket', counted);
      const sent = await client.sendMessage('aGVsbG8=');
      await client.sendMessage('aGVsbG8=');
      await client.sendMessage('aGVsbG8=');
      unsubscribe('net.client.socket', counted);
      assert.match(sent.messageId, /^[0-9a-f-]{36}$/);
      assert.ok(sent.insertedOn instanceof Date);
      assert.deepEqual(seen, []);
      assert.equal(sink.counters.messages, 3);
      assert.equal(connections, 1, 'one connection, kept alive between messages');
    } finally {
      await sink.close();
    }
  });
});

describe('bench: chart', () => {
  it('draws one bar per value given, labelled, and escapes text', () => {
    const svg = renderBarChart({
      title: 'a <b> & c',
      subtitle: 's',
      unit: 'users/s',
      categories: [
        { key: 'x', label: 'X' },
        { key: 'y', label: 'Y' },
        { key: 'z', label: 'Z' },
      ],
      series: [
        { label: 'local', color: '#111111', values: { x: 1870, y: 640, z: 1860 } },
        { label: 'azure', color: '#222222', values: { x: 1990, z: 1950 } },
      ],
    });
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\n$/);
    assert.equal(svg.match(/<title>/g)?.length, 5, 'five bars: azure has no Y');
    assert.match(svg, /a &lt;b&gt; &amp; c/);
    assert.match(svg, />1,870</);
    assert.equal(svg.match(/<rect /g)?.length, 1 + 5 + 2, 'background, bars, legend');
    assert.equal(niceStep(1990), 500);
    assert.equal(niceStep(9), 2);
  });
});

describe('bench: npm run bench, end to end at a small size', () => {
  const dist = join(__dirname, '..', '..');
  const out = mkdtempSync(join(tmpdir(), 'graph-user-sync-bench-'));
  after(() => rmSync(out, { recursive: true, force: true }));

  const bench = (args: string[]): ReturnType<typeof runNode> => runNode(['--expose-gc', join(dist, 'local/bench.js'), ...args]);

  it('runs the scenarios in processes of their own under the azure model and writes what each one did', async () => {
    // Graph pages at 50 ms per 999 users instead of 1 s: the model's shape, not its duration.
    const run = await bench(['--users', '1000', '--model', 'azure', '--graph-ms-per-999', '50', '--only', 'ceiling,full,delta,delta2', '--out', out]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /azure: Graph page of 999 users 50 ms/);
    assert.match(run.stdout, /GRAPH_PARALLEL_READS=8/);
    const results = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as {
      users: number;
      scenarios: Record<string, { users: number; messages: number; graphRequests: number; queueRequests: number; proxy?: { messages: number } }>;
      churn: Record<string, number>;
      targets: { name: string; met: boolean | undefined }[];
    };
    assert.equal(results.users, 1000);
    const { ceiling, full, delta, delta2 } = results.scenarios;
    assert.ok(ceiling && full && delta && delta2);
    assert.equal(ceiling.messages, 1000);
    assert.equal(ceiling.graphRequests, 0);
    // Every user, plus the snapshot's completion message; read in the 37 ranges of the partitioned
    // walk, after one request for the scope's count that the ranges are checked against.
    assert.equal(full.users, 1000);
    assert.equal(full.messages, 1001);
    assert.equal(full.graphRequests, 38);
    assert.equal(full.proxy?.messages, 1001, 'every message went through the queue proxy');
    assert.equal(delta.users, 1000);
    // The first delta run reads from now: the latest delta link, the count, the 37 ranges.
    assert.equal(delta.graphRequests, 39);
    // The second delta run sends what changed, no more: each added or deleted user once, an updated
    // one once if the update touched a selected property (Graph's delta reports only those).
    const { added = 0, softDeleted = 0, hardDeleted = 0, updated = 0 } = results.churn;
    assert.ok(added + softDeleted + hardDeleted > 0);
    assert.ok(
      delta2.messages >= added + softDeleted + hardDeleted && delta2.messages <= added + softDeleted + hardDeleted + updated,
      `${delta2.messages} messages for ${JSON.stringify(results.churn)}`,
    );
    assert.ok(delta2.graphRequests < delta.graphRequests);
    assert.ok(results.targets.some((t) => /delta second run/.test(t.name) && t.met !== undefined));
    assert.ok(readdirSync(out).some((f) => /^chart-1000\.svg$/.test(f)));
  });

  it('refuses a bad argument with exit 2, naming it', async () => {
    const run = await bench(['--users', '10', '--out', out]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--users "10" must be a whole number from 1000 to 1000000/);
  });
});
