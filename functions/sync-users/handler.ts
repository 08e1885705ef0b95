import type { InvocationContext, Timer } from '@azure/functions';
import {
  count,
  createSyncRuntime,
  dryRun,
  type DryRunReport,
  readSettings,
  runSync,
  type RunSyncOptions,
  scrub,
  type SyncRuntime,
  type SyncSettings,
  type SyncSummary,
  toSyncError,
} from '../../shared';
import { RunLog } from './run-log';
import { trackRun } from './shutdown';
import { flushTelemetry } from './telemetry';

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
  return handleSync(timer, context);
}

/** What an operator can ask of one run from the command line (`npm run sync -- --once --full`); the timer asks nothing. */
export type SyncRequest = Pick<RunSyncOptions, 'forceFull' | 'allowRemovals'> & {
  /** Read as a run would, write nothing, report what it would send (`--dry-run`). */
  dryRun?: boolean;
};

/** The handler with a request: used by the local commands, which take --full, --allow-removals and --dry-run. */
export function handleSync(timer: Timer, context: InvocationContext, request: SyncRequest & { dryRun: true }): Promise<DryRunReport>;
export function handleSync(timer: Timer, context: InvocationContext, request?: SyncRequest): Promise<SyncSummary>;
export async function handleSync(timer: Timer, context: InvocationContext, request: SyncRequest = {}): Promise<SyncSummary | DryRunReport> {
  const controller = new AbortController();
  const running = request.dryRun === true ? dry(context, controller.signal, request) : run(timer, context, controller.signal, request);
  trackRun(controller, running);
  return running;
}

async function dry(context: InvocationContext, abortSignal: AbortSignal, request: SyncRequest): Promise<DryRunReport> {
  try {
    const runtime = runtimeFor(readSettings(process.env, { source: appSettingsSource }));
    const report = await dryRun(runtime, {
      abortSignal,
      ...(request.forceFull === undefined ? {} : { forceFull: request.forceFull }),
      ...(request.allowRemovals === undefined ? {} : { allowRemovals: request.allowRemovals }),
    });
    for (const notice of report.notices) context.warn(scrub(notice));
    for (const line of dryRunLines(report)) context.log(line);
    return report;
  } catch (error) {
    const failure = toSyncError(error);
    context.error(`Dry run failed [${failure.code}]: ${scrub(failure.message)}`);
    throw failure;
  }
}

function runtimeFor(settings: SyncSettings): SyncRuntime {
  // App settings only change with a restart in Azure; the key keeps a changed environment honest elsewhere.
  const key = JSON.stringify(settings);
  if (current?.key !== key) current = { key, runtime: createSyncRuntime(settings) };
  return current.runtime;
}

/** The dry run's report, as log lines: what it would send, the guard's verdict, sample ids. */
export function dryRunLines(report: DryRunReport): string[] {
  const what = report.sends === 'snapshot' ? `a snapshot (${report.snapshotReason ?? 'full'})` : 'the changes since the saved delta link';
  const guard = report.guard.wouldHold
    ? `the mass-deletion guard would hold the run: ${count(report.guard.counted, 'removal')} over the threshold of ${report.guard.threshold}`
    : `the mass-deletion guard would let it pass (${report.guard.counted} of at most ${report.guard.threshold} removals)`;
  return [
    `Dry run (${report.mode} mode, ${what}${report.resumes === undefined ? '' : `, carrying on run ${report.resumes.runId} at page ${report.resumes.atPage}`}): nothing was written. ` +
      `It would send ${count(report.snapshots, 'snapshot user')}, ${count(report.upserts, 'upsert')}${report.joined > 0 ? ` (${report.joined} of them members who joined)` : ''} and ${count(report.removals, 'removal')}, ` +
      `from ${count(report.entries, 'entry', 'entries')} read in ${count(report.pages, 'page')}; ${guard}.`,
    ...(['snapshot', 'upserted', 'removed'] as const)
      .filter((k) => report.samples[k].length > 0)
      .map((k) => `  first ${k === 'snapshot' ? 'snapshot users' : k}: ${report.samples[k].join(', ')}`),
  ];
}

async function run(timer: Timer, context: InvocationContext, abortSignal: AbortSignal, request: SyncRequest): Promise<SyncSummary> {
  // Every line of the run carries its run id (run-log.ts).
  const log = new RunLog(context);
  try {
    const runtime = runtimeFor(readSettings(process.env, { source: appSettingsSource }));
    if (timer.isPastDue) log.warn('The timer is past due: this run starts late (the app was down or busy at the scheduled time).');

    const summary = await runSync(
      runtime,
      { runId: context.invocationId, runAt: new Date() },
      {
        onProgress: (progress) => log.debug('sync progress', progress),
        onNotice: (message) => log.warn(scrub(message)),
        onRunId: (runId) => log.identify(runId),
        abortSignal,
        ...request,
      },
    );
    if (summary.outcome === 'locked') return summary;
    log.info(summaryLine(summary));
    return summary;
  } catch (error) {
    const failure = toSyncError(error);
    // Messages quote SDK and server errors: scrubbed once more at the boundary, whatever their path.
    log.error(`Sync failed [${failure.code}]: ${scrub(failure.message)}`);
    throw failure;
  } finally {
    log.close();
    // The run's spans, metrics and log records leave now: an idle Flex Consumption instance may be gone before the next export.
    await flushTelemetry();
  }
}

/** The run's one log line: mode, what was sent by type, pages, whether the delta link moved on, and the costs. */
export function summaryLine(summary: SyncSummary): string {
  const what =
    summary.sends === 'snapshot'
      ? `snapshot (${summary.snapshotReason ?? 'full'}): ${count(summary.snapshots, 'snapshot user')}`
      : `changes: ${count(summary.upserts, 'upsert')}, ${count(summary.removals, 'removal')}, ${count(summary.snapshots, 'snapshot user')}`;
  const link = summary.mode === 'full' ? '' : `, delta link ${summary.deltaLinkAdvanced ? 'advanced' : 'not advanced'}`;
  const scope =
    summary.scope === 'every user'
      ? ''
      : `, scope: ${summary.scope}${summary.joined + summary.left > 0 ? ` (${summary.joined} joined, ${summary.left} left)` : ''}`;
  return (
    `Sync finished (${summary.mode} mode, ${what}${link}${scope}): ${count(summary.entries, 'entry', 'entries')} read in ${count(summary.pages, 'page')}, ` +
    `${count(summary.messages, 'message')} written to ${summary.queue}, ${summary.durationMs} ms, token from cache: ${summary.tokenFromCache ? 'yes' : 'no'}, ` +
    `${summary.overflowed} via claim check, ${Math.round(summary.retryMs)} ms in retries (run ${summary.runId}${summary.resumed ? `, resumed at page ${summary.resumedAtPage ?? 1}` : ''})`
  );
}
