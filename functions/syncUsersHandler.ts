import type { InvocationContext, Timer } from '@azure/functions';
import { scrub, toSyncError } from '../shared/errors';
import { readSettings } from '../shared/settings';
import { createSyncRuntime, runSync, type SyncRuntime, type SyncSummary } from '../shared/sync';
import { trackRun } from './shutdown';
import { count } from '../shared/words';

/**
 * The timer's handler, exported apart from its registration (syncUsers.ts) so that tests and the
 * local runner call it with a real InvocationContext. It only wires: settings are read from the
 * app settings here, the runtime (cached secret, msal's token cache, storage clients) is kept for
 * the worker's lifetime, and every error is normalised into a SyncError at this boundary and
 * thrown, so that the host's retry policy runs the sync again.
 */

/** Where the host's settings come from, as the settings error says it. */
const appSettingsSource = "the Function App's app settings (local.settings.json under func start)";

let current: { key: string; runtime: SyncRuntime } | undefined;

export async function syncUsersHandler(timer: Timer, context: InvocationContext): Promise<SyncSummary> {
  const controller = new AbortController();
  const running = run(timer, context, controller.signal);
  trackRun(controller, running);
  return running;
}

async function run(timer: Timer, context: InvocationContext, abortSignal: AbortSignal): Promise<SyncSummary> {
  try {
    const settings = readSettings(process.env, { source: appSettingsSource });
    // App settings only change with a restart in Azure; the key keeps a changed environment honest elsewhere.
    const key = JSON.stringify(settings);
    if (current?.key !== key) current = { key, runtime: createSyncRuntime(settings) };
    if (timer.isPastDue) context.warn('The timer is past due: this run starts late (the app was down or busy at the scheduled time).');

    const summary = await runSync(current.runtime, { runId: context.invocationId, runAt: new Date() }, {
      onProgress: (progress) => context.debug('sync progress', progress),
      onNotice: (message) => context.warn(scrub(message)),
      abortSignal,
    });
    if (summary.outcome === 'locked') return summary;
    context.log(
      `Sync finished: ${count(summary.users, 'user')} read, ${count(summary.messages, 'message')} written to ${summary.queue}, ` +
        `${count(summary.pages, 'page')}, ${summary.durationMs} ms, token from cache: ${summary.tokenFromCache ? 'yes' : 'no'}, ` +
        `${summary.overflowed} via claim check, ${Math.round(summary.retryMs)} ms in retries (run ${summary.runId}${summary.resumed ? `, resumed at page ${summary.resumedAtPage ?? 1}` : ''})`,
    );
    return summary;
  } catch (error) {
    const failure = toSyncError(error);
    // Messages quote SDK and server errors: scrubbed once more at the boundary, whatever their path.
    context.error(`Sync failed [${failure.code}]: ${scrub(failure.message)}`);
    throw failure;
  }
}
