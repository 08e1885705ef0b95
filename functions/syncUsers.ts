import { app, type TimerFunctionOptions } from '@azure/functions';
import { stopRunsOnSignals } from './sync-users/shutdown';
import { syncUsersHandler } from './sync-users/handler';
import { startTelemetry } from './sync-users/telemetry';

/**
 * Registration only. The schedule is the SYNC_SCHEDULE app setting (six-field NCRONTAB, UTC).
 * runOnStartup stays off: in production it fires on every scale-out and restart.
 *
 * The retry policy makes the host run a failed invocation again (the handler throws on failure):
 * 5 retries, 1 to 15 minutes apart. The host keeps the count in memory, best effort; the run's
 * checkpoint is what lets the retry, or else the next scheduled run, resume where it stopped.
 */
export const syncUsersTimer: TimerFunctionOptions = {
  schedule: '%SYNC_SCHEDULE%',
  runOnStartup: false,
  useMonitor: true,
  retry: { strategy: 'exponentialBackoff', maxRetryCount: 5, minimumInterval: { minutes: 1 }, maximumInterval: { minutes: 15 } },
  handler: syncUsersHandler,
};

// OpenTelemetry to Application Insights when APPLICATIONINSIGHTS_CONNECTION_STRING is set (telemetry.ts), before the function is registered.
startTelemetry(process.env);
app.timer('syncUsers', syncUsersTimer);
stopRunsOnSignals();
