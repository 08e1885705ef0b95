import { app } from '@azure/functions';
import { syncUsersHandler } from './syncUsersHandler';

// Registration only. The schedule is the SYNC_SCHEDULE app setting (six-field NCRONTAB, UTC).
// runOnStartup stays off: in production it fires on every scale-out and restart.
app.timer('syncUsers', {
  schedule: '%SYNC_SCHEDULE%',
  runOnStartup: false,
  useMonitor: true,
  handler: syncUsersHandler,
});
