import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createGraphError,
  createRunError,
  GraphErrorCodes,
  isRemovalsHeld,
  RemovalsHeldError,
  RunErrorCodes,
  RunErrorMessages,
  stoppedOnRequest,
  SyncErrorCodes,
  withAttemptProgress,
} from '../../../shared/internal';
import { itHasAMessagePerCode, madeWith } from '../../helpers/error-families';

const run = { runId: 'run-1', sends: 'changes', snapshots: 0, upserts: 12 } as const;
const progress = { runId: 'run-1', entries: 1, pages: 2, messages: 3 };

describe('run errors', () => {
  itHasAMessagePerCode({ codes: RunErrorCodes, messages: RunErrorMessages });

  it('makes REMOVALS_HELD as the typed RemovalsHeldError: what was held, what was sent, both ways through', () => {
    const error = createRunError(RunErrorCodes.removalsHeld, {
      run,
      held: 30,
      removing: { kind: 'removals' },
      threshold: 20,
      thresholdWords: "10 % of the last snapshot's 200 users, 20",
      allowance: undefined,
    });
    assert.ok(error instanceof RemovalsHeldError && isRemovalsHeld(error));
    assert.equal(error.code, SyncErrorCodes.removalsHeld);
    assert.equal(error.removals, 30);
    assert.equal(error.threshold, 20);
    assert.equal(error.cause, undefined);
    assert.deepEqual(error.details, { runId: 'run-1', removals: 30, threshold: 20, upserts: 12 });
    assert.equal(
      error.message,
      "Mass-deletion guard: run run-1 would send 30 removals, more than the 10 % of the last snapshot's 200 users, 20 allowed. " +
        "No removal was sent and the delta link stays where it was; the run's 12 upserts were sent. " +
        'If the deletions are intended, allow them once: npm run sync -- --once --allow-removals 30, or set SYNC_ALLOW_REMOVALS=30 ' +
        '(used by one run, then ignored until changed). If not, restore the users (soft-deleted users can be restored for 30 days); each run checks again.',
    );
    const short = createRunError(RunErrorCodes.removalsHeld, {
      run: { ...run, sends: 'snapshot', snapshots: 170 },
      held: 30,
      removing: { kind: 'snapshotShort', knownUsers: 200, snapshots: 170 },
      threshold: 20,
      thresholdWords: '20',
      allowance: 25,
    });
    assert.match(
      short.message,
      /^Mass-deletion guard: run run-1 would let the consumer drop 30 users \(the last full snapshot had 200, this one 170; snapshot\.completed was not sent\), more than the 20 allowed and more than the 25 allowed once\. .*; the run's 170 users were sent as user\.snapshot\. /,
    );
  });

  it('says what a stopped attempt did, with the failure that stopped it or as RUN_INTERRUPTED', () => {
    const stopped = stoppedOnRequest(progress, madeWith);
    assert.equal(stopped.code, SyncErrorCodes.runInterrupted);
    assert.equal(
      stopped.message,
      "Stopped on request: run run-1 had read 1 user in 2 pages and written 3 messages in this attempt; those stay in the queue, and the checkpoint holds the last page whose messages were all accepted; the next run (or the host's retry) resumes there.",
    );
    assert.equal(stopped.cause, madeWith.cause);
    assert.deepEqual(stopped.details, madeWith.details);
    const failure = createGraphError(GraphErrorCodes.graphUnreachable, { origin: 'https://graph.microsoft.com', causeText: 'ECONNREFUSED' });
    const failed = withAttemptProgress(failure, progress, { cause: failure, details: { ...failure.details, ...progress } });
    assert.equal(failed.code, SyncErrorCodes.graphUnreachable);
    assert.equal(
      failed.message,
      'Could not reach Microsoft Graph at https://graph.microsoft.com (setting GRAPH_BASE_URL): ECONNREFUSED\n' +
        "The run run-1 had read 1 user in 2 pages and written 3 messages in this attempt before it stopped; those stay in the queue, and the checkpoint holds the last page whose messages were all accepted; the next run (or the host's retry) resumes there.",
    );
    assert.deepEqual(failed.details, progress);
    assert.equal(failed.cause, failure);
  });
});
