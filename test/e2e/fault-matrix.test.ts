import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { stopCurrentRun } from '../../functions/sync-users/shutdown';
import { syncUsersHandler } from '../../functions/sync-users/handler';
import { messageIdOf } from '../../shared';
import type { LocalStack } from '../../local/stack';
import { prng } from '../../local/stand-ins/seed';
import { applySettings, drainQueue, drainQueueSplit, startStackForTests, testContext, timer } from '../helpers/stack';

// Every fault the stand-ins inject, alone, against the Function handler through the real SDKs,
// Azurite on disk (so that queue-down keeps the messages, as Azure does) and the stand-ins.
// A fault meant to fail the run (sigterm, a permanent 400) is followed by
// the run that resumes it. Afterwards every seeded user must be in the queue; the matrix of runs
// needed, users delivered, duplicates and seconds is printed.

interface Row {
  readonly fault: string;
  /** Invocations the fault may take: 1 when it must be survived inside the run. */
  readonly runs: number;
  /** Duplicates expected (undefined: at least once, any count is allowed: a send may be accepted just as the queue goes down). */
  readonly duplicates?: number;
  /** How the Graph stand-in answers the userPrincipalName ranges (parallel variant only; default honoured). */
  readonly ranges?: 'refused' | 'ignored';
}

// The stand-in serves pages of at most 100 users (as Graph may serve fewer than $top asks), so
// 250 users make three pages: page 2 comes after page 1's 100 messages were sent. (The matrix ran
// 1,500 users in pages of 999 before: five times the messages, the same pages and faults.)
const pageCap = 100;
const users = 250;
const rows: readonly Row[] = [
  { fault: 'graph-429@2', runs: 1, duplicates: 0 },
  { fault: 'graph-429-date@2', runs: 1, duplicates: 0 },
  { fault: 'graph-503@2x2', runs: 1, duplicates: 0 },
  { fault: 'graph-504@2', runs: 1, duplicates: 0 },
  { fault: 'graph-reset@2', runs: 1, duplicates: 0 },
  { fault: 'graph-truncated@2', runs: 1, duplicates: 0 },
  { fault: 'graph-hang@2', runs: 1, duplicates: 0 },
  { fault: 'graph-stall@2', runs: 1, duplicates: 0 },
  { fault: 'token-503', runs: 1, duplicates: 0 },
  { fault: 'token-503x2', runs: 1, duplicates: 0 },
  { fault: 'token-429', runs: 1, duplicates: 0 },
  { fault: 'kv-429', runs: 1, duplicates: 0 },
  { fault: 'kv-503x2', runs: 1, duplicates: 0 },
  { fault: 'queue-down@2x2', runs: 1 },
  { fault: 'sigterm@2', runs: 2, duplicates: 0 },
  { fault: 'graph-400@2', runs: 2, duplicates: 0 },
  { fault: 'graph-expire-links@2', runs: 1, duplicates: pageCap },
  // Graph refusing (400 Request_UnsupportedQuery) or ignoring the range filters of a partitioned
  // read: request 1 is the scope's count, so the 429 hits a range's first page; the run then
  // reads in one sequential walk and says so once, and no user is sent twice (parallel only).
  { fault: 'graph-429@2', runs: 1, duplicates: 0, ranges: 'refused' },
  { fault: 'graph-429@2', runs: 1, duplicates: 0, ranges: 'ignored' },
];
const rowName = (row: Row): string => (row.ranges === undefined ? row.fault : `${row.fault}, ranges ${row.ranges}`);

// In delta mode each row first runs a clean delta sync (the snapshot), then the directory changes
// (local churn: adds, updates, soft and hard deletes) and the faulted run must deliver exactly
// those changes: an upsert per added or changed user, a removal with its reason per deleted one,
// and nothing for anyone else.
// The delta matrix keeps the rows whose handling differs once pages are changes: a retried page,
// a broken body, a stalled one, the queue going down, a stop and a refused page (both resumed
// from the saved page link), and expired links (the walk starts again from the delta link). The
// token and Key Vault faults happen before any page and are the same in both modes (full rows).
const deltaRows = new Set(['graph-429@2', 'graph-reset@2', 'graph-stall@2', 'queue-down@2x2', 'sigterm@2', 'graph-400@2', 'graph-expire-links@2']);
// Full mode with GRAPH_PARALLEL_READS=4: 37 ranges of about 7 users, one page each, four walked
// at once; page numbers count page requests across the ranges. A run stopped or refused mid-way
// resumes each range where the checkpoint has it (a range in flight may be sent again: at least once).
const parallelRows = new Set([
  'graph-429@2',
  'graph-reset@2',
  'graph-hang@2',
  'queue-down@2x2',
  'sigterm@2',
  'graph-400@2',
  'graph-expire-links@2',
  'graph-429@2, ranges refused',
  'graph-429@2, ranges ignored',
]);
const churned = 150; // two delta pages (100 and 50): page 2 comes after page 1's messages were sent
const deltaFields = 'id,displayName,mail,jobTitle,department,mobilePhone,officeLocation'; // every property churn changes

// One stack for both modes: a process keeps the managed-identity endpoint it first saw (see facts).
let stack: LocalStack;
before(async () => {
  // sigterm: what the worker's SIGTERM listener does (functions/sync-users/shutdown.ts), without killing the test runner.
  stack = await startStackForTests({ users, persistent: true, onSigterm: () => void stopCurrentRun('sigterm fault') });
  stack.graph.usersPageCap = pageCap;
});
after(() => stack.stop());

const variants = [
  { name: 'full', mode: 'full', parallel: false },
  { name: 'delta', mode: 'delta', parallel: false },
  { name: 'full, 4 parallel reads', mode: 'full', parallel: true },
] as const;
for (const { name, mode, parallel } of variants) {
  describe(`fault matrix, ${name} mode: every fault survived or resumed, no ${mode === 'full' ? 'user' : 'change'} lost`, () => {
    const matrix: string[][] = [];
    after(() => {
      // Spaces, not tabs: node:test escapes tabs in the lines it reports.
      const table = [[`fault (${name} mode)`, 'runs needed', 'delivered/expected', 'duplicates', 'seconds'], ...matrix];
      const widths = table[0]?.map((_, column) => Math.max(...table.map((row) => (row[column] ?? '').length))) ?? [];
      process.stdout.write(`\n${table.map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ')).join('\n')}\n`);
    });

    for (const [index, row] of rows.entries()) {
      if (row.ranges !== undefined && !parallel) continue;
      if (mode === 'delta' && !deltaRows.has(row.fault)) continue;
      if (parallel && !parallelRows.has(rowName(row))) continue;
      it(`${rowName(row)}: every ${mode === 'full' ? 'user' : 'change'} delivered in ${row.runs === 1 ? 'the same run' : 'the resumed run'}`, async () => {
        const queue = `matrix-${mode}${parallel ? '-parallel' : ''}-${index}`;
        const settings = {
          GRAPH_PARALLEL_READS: parallel ? '4' : '1',
          SYNC_MODE: mode,
          USERS_QUEUE_NAME: queue,
          GRAPH_REQUEST_TIMEOUT_SECONDS: '2',
          SYNC_RETRY_BUDGET_SECONDS: '90',
          SYNC_MAX_REMOVALS: '1000',
          USER_FIELDS: deltaFields,
        };
        const seeded = stack.graph.seed(users);
        /** What the faulted run must deliver: user id → message type and removal reason. */
        const expected = new Map<string, string>();
        if (mode === 'full') {
          for (const u of seeded) expected.set(u.id, 'user.snapshot');
        } else {
          // The clean first run, in a runtime of its own (another send concurrency), so that the faulted
          // run's runtime still meets the token and Key Vault faults with empty caches.
          applySettings(stack, { ...settings, QUEUE_SEND_CONCURRENCY: '31' });
          const first = await syncUsersHandler(timer(), testContext().context);
          assert.equal(first.snapshots, users);
          await drainQueue(stack.azurite.connectionString, queue);
          for (const change of stack.graph.churn(churned, prng(index + 1))) {
            const removal = change.kind === 'softDeleted' ? 'changed' : change.kind === 'hardDeleted' ? 'deleted' : undefined;
            expected.set(change.id, removal === undefined ? 'user.upserted' : `user.removed:${removal}`);
          }
        }
        // A queue of its own: a fresh runtime, so the token and the secret are not cached and token/kv faults meet a request.
        applySettings(stack, settings);
        const injectedBefore = stack.faults.injected;
        stack.faults.arm(row.fault);
        stack.graph.principalNameRanges = row.ranges ?? 'honoured';
        const started = Date.now();
        let runs = 0;
        let runId: string | undefined;
        const runLogs: { level: string; text: string }[][] = [];
        for (;;) {
          runs++;
          const { context, logs } = testContext();
          runLogs.push(logs);
          try {
            const summary = await syncUsersHandler(timer(), context);
            runId = summary.runId;
            assert.equal(summary.sends, mode === 'full' ? 'snapshot' : 'changes');
            if (mode === 'delta') assert.equal(summary.deltaLinkAdvanced, true);
            break;
          } catch (error) {
            assert.ok(runs < row.runs, `invocation ${runs} failed: ${logs.map((l) => l.text).join(' | ')}`);
            assert.ok(error instanceof Error);
          }
        }
        const seconds = (Date.now() - started) / 1000;
        assert.ok(stack.faults.injected > injectedBefore, 'the fault was injected');
        assert.equal(runs, row.runs, 'invocations needed');

        const { users: messages, markers } = await drainQueueSplit(stack.azurite.connectionString, queue);
        const delivered = new Map<string, string>();
        for (const m of messages) delivered.set(m.user.id as string, m.type === 'user.removed' ? `user.removed:${m.removed.reason}` : m.type);
        const lost = [...expected.keys()].filter((id) => !delivered.has(id));
        const strangers = [...delivered.keys()].filter((id) => !expected.has(id));
        const duplicates = messages.length - delivered.size;
        const fallbacks = runLogs.flat().filter((l) => /GRAPH_PARALLEL_READS=4: .*one sequential walk instead/.test(l.text));
        assert.equal(fallbacks.length, row.ranges === undefined ? 0 : 1, 'ranges given up once when Graph refuses or ignores them, never when it honours them');
        if (row.ranges !== undefined) assert.equal(fallbacks[0]?.level, 'warning');
        matrix.push([rowName(row), String(runs), `${delivered.size}/${expected.size}`, String(duplicates), seconds.toFixed(1)]);
        assert.equal(lost.length, 0, `${lost.length} lost`);
        assert.equal(strangers.length, 0, `${strangers.length} sent that did not change`);
        assert.deepEqual(delivered, expected, 'each with its type (and reason)');
        if (parallel) {
          if (row.runs === 1 && row.duplicates === 0) assert.equal(duplicates, 0, 'a fault survived inside the run sends nothing twice');
        } else if (row.duplicates !== undefined) {
          assert.equal(duplicates, mode === 'full' ? row.duplicates : row.duplicates === 0 ? 0 : duplicates, 'duplicates');
        }
        if (mode === 'delta' && row.duplicates !== undefined && row.duplicates > 0) assert.ok(duplicates > 0, 'the restarted walk resent page 1');
        if (parallel)
          assert.ok(
            stack.graph.requestLog.some((u) => u.includes('$filter=userPrincipalName%20ge%20')),
            'the walk read ranges',
          );
        assert.ok(
          messages.every((m) => m.runId === runId && m.messageId === messageIdOf(m)),
          'one runId, message ids from the content',
        );
        assert.equal(new Set(messages.map((m) => m.messageId)).size, delivered.size, 'a resend carries the id of the first send');
        assert.deepEqual(
          markers.map((m) => m.snapshot.users),
          mode === 'full' ? [users] : [],
          'a snapshot ends with its marker; changes have none',
        );
        stack.faults.clear();
        stack.graph.principalNameRanges = 'honoured';
      });
    }
  });
}

// The token and Key Vault faults again with the other credentials: the retry of the token call
// lives below msal for every mode (a certificate's assertion, the managed identity's), and the
// certificate's reads go through the same Key Vault budget as the secret's.
const credentialRows: readonly { credential: 'certificate' | 'managed-identity'; fault: string }[] = [
  { credential: 'certificate', fault: 'token-503x2' },
  { credential: 'certificate', fault: 'token-429' },
  { credential: 'certificate', fault: 'kv-429' },
  { credential: 'certificate', fault: 'kv-503x2' },
  { credential: 'managed-identity', fault: 'token-503x2' },
  { credential: 'managed-identity', fault: 'token-429' },
];

describe('fault matrix, credential modes: token and Key Vault faults survived in the run', () => {
  for (const [index, row] of credentialRows.entries()) {
    it(`${row.credential}, ${row.fault}: every user delivered in the same run`, async () => {
      const queue = `matrix-credential-${index}`;
      applySettings(stack, { ...stack.settingsFor(row.credential), SYNC_MODE: 'full', USERS_QUEUE_NAME: queue, SYNC_RETRY_BUDGET_SECONDS: '90' });
      const seeded = stack.graph.seed(users);
      const injectedBefore = stack.faults.injected;
      stack.faults.arm(row.fault);
      const { context, logs } = testContext();
      const summary = await syncUsersHandler(timer(), context).catch((error: unknown) =>
        assert.fail(`${String(error)} | ${logs.map((l) => l.text).join(' | ')}`),
      );
      assert.ok(stack.faults.injected > injectedBefore, 'the fault was injected');
      assert.equal(summary.snapshots, users);
      const delivered = new Set((await drainQueue(stack.azurite.connectionString, queue)).map((m) => m.user.id));
      assert.deepEqual(delivered, new Set(seeded.map((u) => u.id)));
      stack.faults.clear();
    });
  }
});
