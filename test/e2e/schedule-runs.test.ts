import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { scheduleRuns } from '../../local/invoke';

// npm run local's schedule: SYNC_SCHEDULE as the host reads it, a TimeSpan included.
describe('scheduleRuns', () => {
  it('runs a TimeSpan schedule (00:00:00.2) every interval, never two at once, until stopped', async () => {
    let running = 0;
    let overlapped = false;
    let runs = 0;
    const schedule = scheduleRuns('00:00:00.2', async () => {
      overlapped ||= running > 0;
      running++;
      await sleep(50);
      running--;
      runs++;
    });
    await sleep(1_000);
    schedule.stop();
    const atStop = runs;
    const inFlight = running;
    assert.ok(atStop >= 2, `runs fired (${atStop})`);
    assert.equal(overlapped, false);
    await sleep(500);
    assert.equal(runs, atStop + inFlight, 'no run starts after stop() (one in progress finishes)');
  });

  it('still runs a six-field NCRONTAB schedule (every second)', async () => {
    let runs = 0;
    const schedule = scheduleRuns('* * * * * *', () => Promise.resolve(runs++));
    await sleep(2_300);
    schedule.stop();
    assert.ok(runs >= 1, `runs fired (${runs})`);
  });
});
