import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { syncUsersTimer } from '../../functions/syncUsers';
import { syncUsersHandler } from '../../functions/sync-users/handler';

// What the Functions host is told at registration: the schedule setting, no run on start-up, and
// a retry policy in the shape the v4 library accepts (intervals as Duration objects; strings throw).
describe('timer registration', () => {
  it('binds the schedule to SYNC_SCHEDULE, keeps runOnStartup off and the schedule monitor on', () => {
    assert.equal(syncUsersTimer.schedule, '%SYNC_SCHEDULE%');
    assert.equal(syncUsersTimer.runOnStartup, false);
    assert.equal(syncUsersTimer.useMonitor, true);
    assert.equal(syncUsersTimer.handler, syncUsersHandler);
  });

  it('registers an exponential-backoff retry policy: 5 retries from 1 to 15 minutes', () => {
    const retry = syncUsersTimer.retry;
    assert.ok(retry !== undefined && retry.strategy === 'exponentialBackoff');
    assert.equal(retry.maxRetryCount, 5);
    assert.deepEqual(retry.minimumInterval, { minutes: 1 });
    assert.deepEqual(retry.maximumInterval, { minutes: 15 });
    for (const interval of [retry.minimumInterval, retry.maximumInterval])
      assert.equal(typeof interval, 'object', 'a string such as 00:01:00 throws in the library');
  });
});
