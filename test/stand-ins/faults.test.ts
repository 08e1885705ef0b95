import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { QueueClient } from '@azure/storage-queue';
import { FaultPlan, faultNames, parseFaults } from '../../local/faults';
import { isListening } from '../../local/net';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { runNode } from '../helpers/run-node';

// Fault injection: the grammar, the plan, and each fault as a client sees it over HTTP.

interface GraphPage {
  value: { id: string }[];
  '@odata.nextLink'?: string;
}
interface GraphError {
  error: { code: string; message: string };
}
interface AadError {
  error: string;
  error_description: string;
  error_codes: number[];
}

async function waitUntil(condition: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return condition();
}

function portOf(endpoint: string): number {
  return Number(new URL(endpoint).port);
}

describe('fault lists', () => {
  it('parses names, pages and repeat counts', () => {
    assert.deepEqual(parseFaults('graph-429@2,graph-reset@3x2,token-503,queue-down@2x4,sigterm@3'), [
      { name: 'graph-429', page: 2, count: 1 },
      { name: 'graph-reset', page: 3, count: 2 },
      { name: 'token-503', count: 1 },
      { name: 'queue-down', page: 2, count: 4 },
      { name: 'sigterm', page: 3, count: 1 },
    ]);
    assert.deepEqual(parseFaults(' graph-429-date , graph-expire-links@4x2,queue-down,kv-429x3 '), [
      { name: 'graph-429-date', count: 1 },
      { name: 'graph-expire-links', page: 4, count: 2 },
      { name: 'queue-down', count: 3 },
      { name: 'kv-429', count: 3 },
    ]);
    assert.deepEqual(parseFaults(''), []);
  });

  it('rejects each bad item with one message naming it and listing every valid name', () => {
    const bad: [string, RegExp][] = [
      ['graph-42', /unknown fault name "graph-42"/],
      ['fox@2', /unknown fault name "fox"/],
      ['graph-429@0', /page after "@" must be a whole number from 1/],
      ['graph-429@', /page after "@"/],
      ['graph-429@two', /page after "@"/],
      ['graph-429@1.5', /page after "@"/],
      ['graph-429x0', /repeat count after "x"/],
      ['graph-429x', /repeat count after "x"/],
      ['graph-429@2x3x4', /repeat count after "x"/],
      ['queue-down@2x9999', /outage in seconds/],
      ['token-503@1', /token-503 has no page/],
      ['kv-429@2', /kv-429 has no page/],
      ['GRAPH-429', /unknown fault name/],
    ];
    for (const [item, why] of bad) {
      assert.throws(
        () => parseFaults(`graph-429@2,${item},token-503`),
        (error: unknown) => {
          assert.ok(error instanceof Error);
          assert.ok(error.message.includes(`"${item}"`), error.message);
          assert.match(error.message, why);
          for (const name of faultNames) assert.ok(error.message.includes(name), `${name} not listed in: ${error.message}`);
          return true;
        },
      );
    }
    assert.throws(() => parseFaults('graph-429,,token-503'), /empty item/);
  });

  it('numbers Graph page requests from the arming: @N and xN hit the right ones', () => {
    const plan = new FaultPlan({ sigterm: () => undefined }).arm('graph-429@2,graph-503@4x2,sigterm@3');
    const hits = [1, 2, 3, 4, 5, 6].map(() =>
      plan
        .take('graph')
        .map((f) => f.name)
        .join('+'),
    );
    assert.deepEqual(hits, ['', 'graph-429', 'sigterm', 'graph-503', 'graph-503', '']);
    assert.equal(plan.pageRequests, 6);
    assert.equal(plan.injected, 4);
    assert.equal(plan.injectedByName['graph-503'], 2);
    assert.deepEqual(plan.pending, []);
    plan.arm('graph-504@1');
    assert.equal(plan.pageRequests, 0, 'arming restarts the numbering');
    assert.deepEqual(
      plan.take('graph').map((f) => f.name),
      ['graph-504'],
    );
    assert.equal(plan.injected, 5, 'arming keeps the counts');
    plan.clear();
    assert.equal(plan.injected, 0);
    assert.deepEqual(plan.take('graph'), []);
  });

  it('places Graph faults without a page one after another, round the pages given, and refuses two answers for one request', () => {
    const plan = new FaultPlan().arm('graph-429@1,graph-503x2,graph-504');
    assert.deepEqual(plan.pending, [
      { name: 'graph-429', page: 1, count: 1 },
      { name: 'graph-503', page: 2, count: 2 },
      { name: 'graph-504', page: 4, count: 1 },
    ]);
    assert.throws(() => plan.arm('graph-429@2,graph-503@2'), /"graph-503@2".*same Graph request as "graph-429@2"/);
    assert.throws(() => plan.arm('graph-429@2x3,graph-hang@4'), /"graph-hang@4".*"graph-429@2x3" \(request 4\)/);
    assert.doesNotThrow(() => plan.arm('graph-429@2,graph-expire-links@2,sigterm@2'), 'side faults may share a request');
  });

  it('takes token and Key Vault faults in list order, apart from Graph numbering', () => {
    const plan = new FaultPlan().arm('token-503,token-429x2,kv-503');
    assert.deepEqual(
      [1, 2, 3, 4].map(() => plan.take('token')[0]?.name),
      ['token-503', 'token-429', 'token-429', undefined],
    );
    assert.deepEqual(
      [1, 2].map(() => plan.take('kv')[0]?.name),
      ['kv-503', undefined],
    );
    assert.equal(plan.pageRequests, 0);
    assert.equal(plan.injected, 4);
  });

  it('refuses queue-down without a way to restart storage on disk, and calls the hook with the seconds', () => {
    assert.throws(() => new FaultPlan().arm('queue-down'), /"queue-down".*persistent: true/);
    const outages: number[] = [];
    const plan = new FaultPlan({ queueDown: (s) => outages.push(s) }).arm('queue-down@2x5');
    assert.throws(() => plan.setHooks({}), /persistent: true/);
    plan.take('graph');
    assert.deepEqual(outages, []);
    plan.take('graph');
    plan.take('graph');
    assert.deepEqual(outages, [5], 'once, at request 2, for 5 s');
    assert.equal(plan.injectedByName['queue-down'], 1);
  });

  it('a stack refuses queue-down in memory, and a bad list, before starting anything', async () => {
    const started = Date.now();
    await assert.rejects(startLocalStack({ faults: 'graph-429@1,queue-down@3' }), /"queue-down@3".*persistent: true/);
    await assert.rejects(startLocalStack({ persistent: true, faults: 'graph-429@2,graph-503@2' }), /"graph-503@2".*same Graph request/);
    await assert.rejects(startLocalStack({ faults: 'graph-429@2,token-503@2' }), /"token-503@2"/);
    assert.ok(Date.now() - started < 500, 'nothing was started');
  });
});

describe('faults over HTTP', () => {
  let stack: LocalStack;
  let graphToken: string;
  let vaultToken: string;
  const sigterms: number[] = [];

  before(async () => {
    stack = await startLocalStack({ users: 25, persistent: true, onSigterm: () => sigterms.push(stack.faults.pageRequests) });
    graphToken = await clientCredentialsToken();
    const identity = await fetch(`${stack.entra.identityEndpoint}?api-version=2019-08-01&resource=${encodeURIComponent('https://vault.azure.net')}`, {
      headers: { 'x-identity-header': stack.entra.identityHeader },
    });
    vaultToken = ((await identity.json()) as { access_token: string }).access_token;
  });
  after(() => stack.stop());
  beforeEach(() => stack.faults.clear());

  function requestToken(): Promise<Response> {
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: stack.clientId,
      client_secret: stack.clientSecret,
      scope: `${stack.graph.url}/.default`,
    });
    return fetch(`${stack.entra.url}/${stack.tenantId}/oauth2/v2.0/token`, { method: 'POST', body: form });
  }
  async function clientCredentialsToken(): Promise<string> {
    const response = await requestToken();
    assert.equal(response.status, 200);
    return ((await response.json()) as { access_token: string }).access_token;
  }
  /** The first page ($top=5) or the nextLink given. */
  function page(link?: string, signal?: AbortSignal): Promise<Response> {
    return fetch(link ?? `${stack.graph.url}/v1.0/users?$select=id&$top=5`, { headers: { authorization: `Bearer ${graphToken}` }, signal });
  }
  async function nextLinkOf(response: Response): Promise<string> {
    assert.equal(response.status, 200);
    const link = ((await response.json()) as GraphPage)['@odata.nextLink'];
    assert.ok(link !== undefined);
    return link;
  }
  function readSecret(authenticated: boolean): Promise<Response> {
    return fetch(`${stack.keyVault.url}secrets/${stack.secretName}/?api-version=7.5`, {
      headers: authenticated ? { authorization: `Bearer ${vaultToken}` } : {},
    });
  }

  it('graph-429@2: the second page request gets 429 with Retry-After: 1, its retry the page', async () => {
    stack.faults.arm('graph-429@2');
    const next = await nextLinkOf(await page());
    const throttled = await page(next);
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers.get('retry-after'), '1');
    assert.equal(((await throttled.json()) as GraphError).error.code, 'TooManyRequests');
    const retried = await page(next);
    assert.equal(retried.status, 200);
    assert.deepEqual(
      ((await retried.json()) as GraphPage).value.map((u) => u.id),
      stack.graph.users.slice(5, 10).map((u) => u.id),
    );
    assert.equal(stack.faults.injectedByName['graph-429'], 1);
  });

  it('graph-429-date: Retry-After is an HTTP-date about 2 s ahead', async () => {
    stack.faults.arm('graph-429-date');
    const response = await page();
    assert.equal(response.status, 429);
    const header = response.headers.get('retry-after') ?? '';
    assert.doesNotMatch(header, /^\d+$/);
    assert.match(header, /GMT$/);
    const ahead = Date.parse(header) - Date.now();
    assert.ok(ahead > 0 && ahead <= 2000, `Retry-After ${header} is ${ahead} ms ahead`);
  });

  it('graph-503, graph-504 and graph-400, without a page each take the next request; none has Retry-After', async () => {
    stack.faults.arm('graph-503,graph-504,graph-400');
    const expected: [number, string][] = [
      [503, 'ServiceUnavailable'],
      [504, 'GatewayTimeout'],
      [400, 'BadRequest'],
    ];
    for (const [status, code] of expected) {
      const response = await page();
      assert.equal(response.status, status);
      assert.equal(response.headers.get('retry-after'), null);
      assert.equal(((await response.json()) as GraphError).error.code, code);
    }
    assert.equal((await page()).status, 200);
  });

  it('graph-503@2x2 hits two consecutive requests', async () => {
    stack.faults.arm('graph-503@2x2');
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await page();
      statuses.push(response.status);
      await response.arrayBuffer();
    }
    assert.deepEqual(statuses, [200, 503, 503, 200]);
    assert.equal(stack.faults.pageRequests, 4);
  });

  it('graph-reset: 200 and the full content-length, then the connection drops mid-body', async () => {
    stack.faults.arm('graph-reset');
    const response = await page();
    assert.equal(response.status, 200);
    assert.ok(Number(response.headers.get('content-length')) > 100);
    await assert.rejects(response.text());
  });

  it('graph-truncated: 200, half a body ended cleanly, not JSON', async () => {
    stack.faults.arm('graph-truncated');
    const response = await page();
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-length'), null);
    const text = await response.text();
    assert.match(text, /^\{"@odata.context"/);
    assert.throws(() => JSON.parse(text) as unknown, SyntaxError);
  });

  it('graph-hang: no answer until the client gives up; the next request is served', async () => {
    stack.faults.arm('graph-hang');
    const started = Date.now();
    await assert.rejects(page(undefined, AbortSignal.timeout(500)), { name: 'TimeoutError' });
    assert.ok(Date.now() - started >= 450);
    assert.equal((await page()).status, 200);
  });

  it('graph-stall: headers and half the body, then nothing', async () => {
    stack.faults.arm('graph-stall');
    const response = await page(undefined, AbortSignal.timeout(700));
    assert.equal(response.status, 200);
    const started = Date.now();
    await assert.rejects(response.text());
    assert.ok(Date.now() - started >= 300, 'the body read should wait for the timeout');
  });

  it('graph-expire-links@2: links issued before page request 2 get 400 Directory_ExpiredPageToken', async () => {
    stack.faults.arm('graph-expire-links@2');
    const next = await nextLinkOf(await page());
    const expired = await page(next);
    assert.equal(expired.status, 400);
    assert.equal(((await expired.json()) as GraphError).error.code, 'Directory_ExpiredPageToken');
    const fresh = await nextLinkOf(await page());
    assert.equal((await page(fresh)).status, 200);
  });

  it("token-503: Entra's AADSTS90033 shape; the next request gets a token", async () => {
    stack.faults.arm('token-503');
    const injected = stack.entra.counters.faultsInjected;
    const failed = await requestToken();
    assert.equal(failed.status, 503);
    const body = (await failed.json()) as AadError;
    assert.equal(body.error, 'temporarily_unavailable');
    assert.ok(body.error_codes.includes(90033));
    assert.match(
      body.error_description,
      /^AADSTS90033: A transient error has occurred\. Please try again\. Trace ID: [\w-]+ Correlation ID: [\w-]+ Timestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/,
    );
    assert.equal((await requestToken()).status, 200);
    assert.equal(stack.entra.counters.faultsInjected - injected, 1);
  });

  it('token-429: 429 with Retry-After: 1 and an AADSTS throttling error', async () => {
    stack.faults.arm('token-429');
    const failed = await requestToken();
    assert.equal(failed.status, 429);
    assert.equal(failed.headers.get('retry-after'), '1');
    const body = (await failed.json()) as AadError;
    assert.deepEqual(body.error_codes, [90055]);
    assert.match(body.error_description, /^AADSTS90055: /);
  });

  it('kv-429 then kv-503 hit the authenticated secret reads, never the challenge', async () => {
    stack.faults.arm('kv-429,kv-503');
    assert.equal((await readSecret(false)).status, 401);
    const throttled = await readSecret(true);
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers.get('retry-after'), '1');
    assert.equal(((await throttled.json()) as GraphError).error.code, 'Throttled');
    const unavailable = await readSecret(true);
    assert.equal(unavailable.status, 503);
    assert.equal(((await unavailable.json()) as GraphError).error.code, 'ServiceUnavailable');
    const read = await readSecret(true);
    assert.equal(read.status, 200);
    assert.ok(((await read.json()) as { value: string }).value === stack.clientSecret, 'the secret is served again');
    assert.deepEqual([stack.faults.injectedByName['kv-429'], stack.faults.injectedByName['kv-503']], [1, 1]);
  });

  it('sigterm@3: the hook runs at the third page request, which is then answered', async () => {
    stack.faults.arm('sigterm@3');
    sigterms.length = 0;
    const next = await nextLinkOf(await page());
    const second = await nextLinkOf(await page(next));
    assert.deepEqual(sigterms, []);
    const third = await page(second);
    assert.deepEqual(sigterms, [3]);
    assert.equal(third.status, 200);
    assert.equal(((await third.json()) as GraphPage).value.length, 5);
  });

  it('queue-down@1x2: Azurite refuses connections for the outage, then holds the same messages on the same ports', async () => {
    const queue = new QueueClient(stack.azurite.connectionString, 'outage', { retryOptions: { maxTries: 1 } });
    await queue.create();
    await queue.sendMessage('sent before the outage');
    const queuePort = portOf(stack.azurite.queueEndpoint);
    const blobPort = portOf(stack.azurite.blobEndpoint);
    stack.faults.arm('queue-down@1x2');
    const started = Date.now();
    assert.equal((await page()).status, 200);
    assert.ok(Date.now() - started < 1500, 'the Graph page must not wait for the outage');
    assert.ok(await waitUntil(async () => !(await isListening(queuePort)) && !(await isListening(blobPort)), 5000), 'Azurite still listening');
    assert.equal(stack.azurite.state, 'down');
    await assert.rejects(queue.sendMessage('sent during the outage'), /ECONNREFUSED/);
    await stack.azurite.whenUp();
    assert.ok(Date.now() - started >= 2000, 'down for the 2 s asked');
    assert.equal(stack.azurite.state, 'running');
    assert.ok(await isListening(blobPort));
    const { peekedMessageItems } = await queue.peekMessages({ numberOfMessages: 32 });
    assert.deepEqual(
      peekedMessageItems.map((m) => m.messageText),
      ['sent before the outage'],
    );
    assert.equal(stack.faults.injectedByName['queue-down'], 1);
  });

  it('counts what it injected, in all, per name and per stand-in', async () => {
    const before = { graph: stack.graph.counters.faultsInjected, entra: stack.entra.counters.faultsInjected, kv: stack.keyVault.counters.faultsInjected };
    stack.faults.arm('graph-429,graph-503,token-503,kv-429');
    for (let i = 0; i < 3; i++) await (await page()).arrayBuffer();
    await (await requestToken()).arrayBuffer();
    await (await readSecret(true)).arrayBuffer();
    assert.equal(stack.faults.injected, 4);
    assert.equal(stack.faults.injectedByName['graph-429'], 1);
    assert.equal(stack.faults.injectedByName['graph-504'], 0);
    assert.deepEqual(
      [
        stack.graph.counters.faultsInjected - before.graph,
        stack.entra.counters.faultsInjected - before.entra,
        stack.keyVault.counters.faultsInjected - before.kv,
      ],
      [2, 1, 1],
    );
    assert.deepEqual(stack.faults.pending, []);
  });

  it('runs blob and queue on disk; stop() during an outage cancels the restart and leaves no process or directory (last: stops the stack)', async () => {
    const { azurite } = stack;
    assert.match(azurite.connectionString, /BlobEndpoint=http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1;/);
    assert.match(azurite.connectionString, /QueueEndpoint=http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1;/);
    assert.doesNotMatch(azurite.connectionString, /TableEndpoint/);
    assert.equal(stack.settings['AzureWebJobsStorage'], azurite.connectionString);
    const location = azurite.location ?? '';
    assert.ok(existsSync(location), 'the data directory');
    const outage = azurite.stopFor(60_000);
    assert.ok(await waitUntil(async () => !(await isListening(portOf(azurite.queueEndpoint))), 5000));
    const stopping = Date.now();
    await stack.stop();
    await outage;
    assert.ok(Date.now() - stopping < 5000, 'the restart was not waited for');
    assert.equal(azurite.state, 'stopped');
    assert.equal(existsSync(location), false, 'the data directory is removed');
    assert.equal(await isListening(portOf(azurite.queueEndpoint)), false);
    assert.equal(await isListening(portOf(azurite.blobEndpoint)), false);
  });
});

describe('npm run local -- --faults', () => {
  const script = join(__dirname, '..', '..', 'local', 'run.js');
  const run = (args: string[]): ReturnType<typeof runNode> => runNode([script, ...args]);

  it('a bad list: exit 2, the item named, nothing started', async () => {
    const result = await run(['--once', '--faults', 'graph-429@2,graph-42']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--faults: Bad fault "graph-42": unknown fault name/);
    assert.equal(result.stdout, '');
  });

  it('arms the list before the run (on disk when it has queue-down) and reports what it injected', async () => {
    const result = await run(['--once', '--users', '30', '--faults', 'graph-429@1,graph-503@2,queue-down@9']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Faults {4}graph-429@1,graph-503@2,queue-down@9\n/);
    assert.match(result.stdout, /2 faults injected so far/);
    assert.match(result.stdout, /snapshot \(first-delta\): 30 snapshot users, delta link advanced\): 30 entries read in 1 page, 31 messages written/);
  });
});
