import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { SpanStatusCode, type Attributes } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { syncUsersHandler } from '../../functions/sync-users/handler';
import { Attr, MetricNames, SpanNames, SyncError, SyncErrorCodes } from '../../shared/internal';
import { scanForLeaks, secretsFileVariable } from '../../local/leaks';
import type { LocalStack } from '../../local/stack';
import { seedDisplayNames } from '../../local/stand-ins/seed';
import { renderTelemetry, startLocalTelemetry, type TelemetrySnapshot } from '../../local/telemetry';
import { applySettings, clearQueue, startStackForTests, testContext, timer, type LogLine } from '../helpers/stack';

// A real run (the handler, the real SDKs, the stand-ins and Azurite) with the OpenTelemetry SDK
// registered in this process with in-memory exporters (local/telemetry.ts, what --telemetry uses):
// the span tree, its attributes, the metric values, the run id on every log line, and nothing
// personal or secret in any attribute. Each snapshot is also printed, so that the suite's leak
// scan (local/scan-run.ts) reads it like every other line.
const telemetry = startLocalTelemetry();

describe('telemetry of a run (OpenTelemetry, in memory)', () => {
  let stack: LocalStack;
  let queue: string;
  before(async () => {
    stack = await startStackForTests();
  });
  after(async () => {
    await stack.stop();
    await telemetry.shutdown();
  });
  beforeEach(async () => {
    stack.faults.clear();
    // A new queue: a new runtime (the secret and the token read again) and a new checkpoint.
    queue = `otel-${randomUUID().slice(0, 8)}`;
    applySettings(stack, { USERS_QUEUE_NAME: queue, SYNC_MODE: 'full' });
    await telemetry.take();
  });

  /** What the run recorded, printed for the leak scan and checked here against the stack's secrets and the directory's users. */
  async function recorded(): Promise<TelemetrySnapshot> {
    const snapshot = await telemetry.take();
    process.stdout.write(
      `${renderTelemetry(snapshot)
        .map((l) => `# ${l}`)
        .join('\n')}\n`,
    );
    const values = [
      ...snapshot.spans.flatMap((s) => [s.name, ...attributeValues(s.attributes), s.status.message ?? '']),
      ...snapshot.metrics.flatMap((m) => [m.name, ...attributeValues(m.attributes)]),
    ];
    const text = values.join('\n');
    const registry = process.env[secretsFileVariable];
    const known = [
      stack.clientSecret,
      ...Object.values(stack.identityEnvironment),
      ...(registry === undefined || registry === ''
        ? []
        : readFileSync(registry, 'utf8')
            .split('\n')
            .filter((l) => l !== '')),
    ];
    assert.deepEqual(scanForLeaks(text, known, seedDisplayNames()), [], 'no secret, token or seeded name');
    for (const user of stack.graph.users) {
      for (const value of [user.id, user.displayName, user.userPrincipalName, user.mail]) {
        if (value !== null && value !== '') assert.ok(!values.some((v) => v.includes(value)), 'no user id, name, UPN or mail in any attribute');
      }
    }
    assert.ok(!values.some((v) => /https?:\/\/|\$skiptoken|\$deltatoken/i.test(v)), 'no URL');
    return snapshot;
  }

  it('a full run: one sync.run, a graph.page child per page, the token under the first page and the Key Vault read under it; counts and metrics', async () => {
    stack.graph.seed(1000);
    const { context, logs } = testContext();
    const summary = await syncUsersHandler(timer(), context);
    await clearQueue(stack.azurite.connectionString, queue);
    const snapshot = await recorded();

    const [run, ...others] = named(snapshot, SpanNames.run);
    assert.ok(run !== undefined && others.length === 0, 'one sync.run');
    assert.equal(run.parentSpanContext, undefined, 'the root here (in Azure: a child of the host invocation)');
    assert.ok(
      snapshot.spans.every((s) => s.spanContext().traceId === run.spanContext().traceId),
      'one trace',
    );
    assert.deepEqual(run.status.code, SpanStatusCode.UNSET);
    assert.deepEqual(
      pick(run.attributes, [
        Attr.runId,
        Attr.invocationId,
        Attr.mode,
        Attr.kind,
        Attr.snapshotReason,
        Attr.outcome,
        Attr.pages,
        Attr.users,
        Attr.messages,
        Attr.snapshots,
        Attr.resumed,
        Attr.tokenFromCache,
      ]),
      {
        [Attr.runId]: context.invocationId,
        [Attr.invocationId]: context.invocationId,
        [Attr.mode]: 'full',
        [Attr.kind]: 'snapshot',
        [Attr.snapshotReason]: 'full-mode',
        [Attr.outcome]: 'completed',
        [Attr.pages]: 2,
        [Attr.users]: 1000,
        [Attr.messages]: 1001,
        [Attr.snapshots]: 1000,
        [Attr.resumed]: false,
        [Attr.tokenFromCache]: false,
      },
    );

    const pages = named(snapshot, SpanNames.graphPage);
    assert.equal(pages.length, summary.pages);
    assert.deepEqual(
      pages.map((p) => [p.parentSpanContext?.spanId, p.attributes[Attr.pageNumber], p.attributes[Attr.httpStatus]]),
      [1, 2].map((n) => [run.spanContext().spanId, n, 200]),
    );
    const [token, ...moreTokens] = named(snapshot, SpanNames.token);
    assert.ok(token !== undefined && moreTokens.length === 0, 'one token: the Graph pipeline keeps it for the walk');
    assert.equal(token.parentSpanContext?.spanId, pages[0]?.spanContext().spanId, 'asked for by the first page');
    assert.deepEqual(pick(token.attributes, [Attr.tokenFromCache, Attr.credentialMode]), { [Attr.tokenFromCache]: false, [Attr.credentialMode]: 'secret' });
    const [secret, ...moreSecrets] = named(snapshot, SpanNames.keyVaultSecret);
    assert.ok(secret !== undefined && moreSecrets.length === 0, 'one Key Vault read');
    assert.equal(secret.parentSpanContext?.spanId, token.spanContext().spanId, 'read for the token');

    assert.equal(sum(snapshot, MetricNames.runs, { [Attr.outcome]: 'completed', [Attr.mode]: 'full' }), 1);
    assert.equal(sum(snapshot, MetricNames.usersRead), 1000);
    assert.equal(sum(snapshot, MetricNames.messagesSent, { [Attr.messageType]: 'user.snapshot' }), 1000);
    assert.equal(sum(snapshot, MetricNames.messagesSent, { [Attr.messageType]: 'snapshot.completed' }), 1);
    assert.equal(sum(snapshot, MetricNames.messagesSent), 1001);
    assert.equal(sum(snapshot, MetricNames.retries), 0);
    assert.equal(histogram(snapshot, MetricNames.queueSendDuration).count, 1001, 'one latency per send');
    assert.equal(histogram(snapshot, MetricNames.runDuration).count, 1);
    assertRunIdOnEveryLine(logs, context.invocationId);

    // The next run of the same worker: the token from msal's cache, no Key Vault read.
    const again = testContext();
    await syncUsersHandler(timer(), again.context);
    await clearQueue(stack.azurite.connectionString, queue);
    const second = await recorded();
    assert.deepEqual(
      named(second, SpanNames.token).map((s) => s.attributes[Attr.tokenFromCache]),
      [true],
    );
    assert.equal(named(second, SpanNames.keyVaultSecret).length, 0);
    assert.equal(named(second, SpanNames.run)[0]?.attributes[Attr.runId], again.context.invocationId);
  });

  it('counts retries by dependency: a Graph 429, a token 503 and a Key Vault 503, each retried within the run', async () => {
    stack.graph.seed(30);
    stack.faults.arm('graph-429@1,token-503,kv-503');
    const summary = await syncUsersHandler(timer(), testContext().context);
    assert.equal(summary.entries, 30);
    await clearQueue(stack.azurite.connectionString, queue);
    const snapshot = await recorded();
    assert.equal(stack.faults.injected, 3);
    assert.equal(sum(snapshot, MetricNames.retries, { [Attr.dependency]: 'Microsoft Graph' }), 1);
    assert.equal(sum(snapshot, MetricNames.retries, { [Attr.dependency]: 'Entra ID' }), 1);
    assert.equal(sum(snapshot, MetricNames.retries, { [Attr.dependency]: 'Key Vault' }), 1);
    const [page] = named(snapshot, SpanNames.graphPage);
    assert.equal(page?.attributes[Attr.httpStatus], 200, 'the page span holds the final answer, the retry inside it');
    assert.ok((named(snapshot, SpanNames.run)[0]?.attributes[Attr.retryMs] as number) >= 1000, 'the 429 asked for 1 s');
  });

  it('a failed run: the page and the run marked with the error code only; a resumed run keeps its id on the span and on every log line', async () => {
    stack.graph.seed(1000);
    stack.faults.arm('graph-400@2');
    const first = testContext();
    await assert.rejects(
      syncUsersHandler(timer(), first.context),
      (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.graphBadRequest,
    );
    const failed = await recorded();
    const [run] = named(failed, SpanNames.run);
    assert.deepEqual(
      [
        run?.status.code,
        run?.status.message,
        run?.attributes[Attr.errorType],
        run?.attributes[Attr.outcome],
        run?.attributes[Attr.pages],
        run?.attributes[Attr.users],
      ],
      [SpanStatusCode.ERROR, 'GRAPH_BAD_REQUEST', 'GRAPH_BAD_REQUEST', 'failed', 1, 999],
    );
    assert.deepEqual(
      named(failed, SpanNames.graphPage).map((p) => [p.attributes[Attr.httpStatus], p.status.code]),
      [
        [200, SpanStatusCode.UNSET],
        [400, SpanStatusCode.ERROR],
      ],
    );
    assert.equal(sum(failed, MetricNames.runs, { [Attr.outcome]: 'failed', [Attr.errorType]: 'GRAPH_BAD_REQUEST' }), 1);
    assert.equal(sum(failed, MetricNames.usersRead), 999, 'what the failed invocation read');
    assert.equal(sum(failed, MetricNames.messagesSent), 0, 'counted when a run completes');
    assertRunIdOnEveryLine(first.logs, first.context.invocationId);

    const second = testContext();
    const summary = await syncUsersHandler(timer(), second.context);
    assert.deepEqual([summary.runId, summary.resumed], [first.context.invocationId, true]);
    const resumed = await recorded();
    assert.deepEqual(pick(named(resumed, SpanNames.run)[0]?.attributes ?? {}, [Attr.runId, Attr.invocationId, Attr.resumed, Attr.resumedAtPage]), {
      [Attr.runId]: first.context.invocationId,
      [Attr.invocationId]: second.context.invocationId,
      [Attr.resumed]: true,
      [Attr.resumedAtPage]: 2,
    });
    assert.ok(second.logs.some((l) => /Resuming run/.test(l.text)));
    assertRunIdOnEveryLine(second.logs, first.context.invocationId);
    assert.equal(sum(resumed, MetricNames.messagesSent, { [Attr.messageType]: 'user.snapshot' }), 1000, "the run's totals, once, when it completes");
    await clearQueue(stack.azurite.connectionString, queue);
  });

  it('a run held by the mass-deletion guard: REMOVALS_HELD on the span, the held removals counted', async () => {
    applySettings(stack, { USERS_QUEUE_NAME: queue, SYNC_MODE: 'delta', SYNC_MAX_REMOVALS: '10' });
    const seeded = stack.graph.seed(100);
    await syncUsersHandler(timer(), testContext().context);
    for (const user of seeded.slice(0, 12)) stack.graph.hardDeleteUser(user.id);
    await telemetry.take();
    const { context, logs } = testContext();
    await assert.rejects(syncUsersHandler(timer(), context), (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.removalsHeld);
    const snapshot = await recorded();
    const [run] = named(snapshot, SpanNames.run);
    assert.deepEqual([run?.attributes[Attr.errorType], run?.attributes[Attr.removalsHeld], run?.attributes[Attr.mode]], ['REMOVALS_HELD', 12, 'delta']);
    assert.equal(sum(snapshot, MetricNames.removalsHeld), 12);
    assert.equal(sum(snapshot, MetricNames.runs, { [Attr.outcome]: 'failed', [Attr.errorType]: 'REMOVALS_HELD' }), 1);
    assertRunIdOnEveryLine(logs, context.invocationId);
    await clearQueue(stack.azurite.connectionString, queue);
  });
});

function named(snapshot: TelemetrySnapshot, name: string): ReadableSpan[] {
  return snapshot.spans.filter((s) => s.name === name).sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
}

function pick(attributes: Attributes, names: readonly string[]): Attributes {
  return Object.fromEntries(names.map((n) => [n, attributes[n]]));
}

function matches(attributes: Attributes, wanted: Attributes): boolean {
  return Object.entries(wanted).every(([k, v]) => attributes[k] === v);
}

function sum(snapshot: TelemetrySnapshot, name: string, wanted: Attributes = {}): number {
  return snapshot.metrics.filter((m) => m.name === name && matches(m.attributes, wanted)).reduce((total, m) => total + (m.value ?? 0), 0);
}

function histogram(snapshot: TelemetrySnapshot, name: string): { count: number } {
  return { count: snapshot.metrics.filter((m) => m.name === name).reduce((total, m) => total + (m.histogram?.count ?? 0), 0) };
}

function attributeValues(attributes: Attributes): string[] {
  return Object.entries(attributes).flatMap(([k, v]) => [k, ...(Array.isArray(v) ? v.map(String) : [String(v)])]);
}

/** Every line the handler wrote for the run: `[run <id>] …`, or the id in the progress line's data. */
function assertRunIdOnEveryLine(logs: readonly LogLine[], runId: string): void {
  assert.ok(logs.length > 0);
  for (const line of logs) {
    if (line.level === 'debug') assert.ok(line.text.includes(`"runId":"${runId}"`), line.text);
    else assert.ok(line.text.startsWith(`[run ${runId}] `), line.text);
  }
}
