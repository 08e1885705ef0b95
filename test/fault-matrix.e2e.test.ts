import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { stopCurrentRun } from '../functions/shutdown';
import { syncUsersHandler } from '../functions/syncUsersHandler';
import { messageIdOf } from '../shared/messages';
import type { LocalStack } from '../local/stack';
import { applySettings, drainQueue, startStackForTests, testContext, timer } from './helpers/stack';

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
}

const users = 1500; // two pages: page 2 comes after 999 messages were sent
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
  { fault: 'graph-expire-links@2', runs: 1, duplicates: 999 },
];

describe('fault matrix: every fault survived or resumed, no user lost', () => {
  let stack: LocalStack;
  const matrix: string[][] = [];
  before(async () => {
    // sigterm: what the worker's SIGTERM listener does (functions/shutdown.ts), without killing the test runner.
    stack = await startStackForTests({ users, persistent: true, onSigterm: () => void stopCurrentRun('sigterm fault') });
  });
  after(async () => {
    await stack.stop();
    // Spaces, not tabs: node:test escapes tabs in the lines it reports.
    const table = [['fault', 'runs needed', 'delivered/expected', 'duplicates', 'seconds'], ...matrix];
    const widths = table[0]?.map((_, column) => Math.max(...table.map((row) => (row[column] ?? '').length))) ?? [];
    process.stdout.write(`\n${table.map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ')).join('\n')}\n`);
  });

  for (const [index, row] of rows.entries()) {
    it(`${row.fault}: every user delivered in ${row.runs === 1 ? 'the same run' : 'the resumed run'}`, async () => {
      const queue = `matrix-${index}`;
      // A queue of its own: a fresh runtime, so the token and the secret are not cached and token/kv faults meet a request.
      applySettings(stack, { USERS_QUEUE_NAME: queue, GRAPH_REQUEST_TIMEOUT_SECONDS: '2', SYNC_RETRY_BUDGET_SECONDS: '90' });
      const seeded = stack.graph.seed(users);
      const injectedBefore = stack.faults.injected;
      stack.faults.arm(row.fault);
      const started = Date.now();
      let runs = 0;
      let runId: string | undefined;
      for (;;) {
        runs++;
        const { context, logs } = testContext();
        try {
          const summary = await syncUsersHandler(timer(), context);
          runId = summary.runId;
          break;
        } catch (error) {
          assert.ok(runs < row.runs, `invocation ${runs} failed: ${logs.map((l) => l.text).join(' | ')}`);
          assert.ok(error instanceof Error);
        }
      }
      const seconds = (Date.now() - started) / 1000;
      assert.ok(stack.faults.injected > injectedBefore, 'the fault was injected');
      assert.equal(runs, row.runs, 'invocations needed');

      const messages = await drainQueue(stack.azurite.connectionString, queue);
      const delivered = new Set(messages.map((m) => m.user['id'] as string));
      const lost = seeded.filter((u) => !delivered.has(u.id));
      const duplicates = messages.length - delivered.size;
      matrix.push([row.fault, String(runs), `${delivered.size}/${seeded.length}`, String(duplicates), seconds.toFixed(1)]);
      assert.equal(lost.length, 0, `${lost.length} users lost`);
      assert.equal(delivered.size, seeded.length);
      if (row.duplicates !== undefined) assert.equal(duplicates, row.duplicates, 'duplicates');
      assert.ok(messages.every((m) => m.runId === runId && m.messageId === messageIdOf(m.runId, m.user['id'] as string)), 'one runId, stable message ids');
      stack.faults.clear();
    });
  }
});
