import type { Attributes, Span } from '@opentelemetry/api';
import type { RunLock } from '../state';
import { Attr, errorType, instruments, markFailed, SpanNames, tracer } from '../core';
import { MessageTypes, type RunInfo } from '../messages';
import type { SyncMode } from '../settings';
import { isRemovalsHeld } from './errors';
import type { SyncProgress, SyncSummary } from './types';

/**
 * A run's span (sync.run) and its metrics. The span is the active one while the run goes on, so
 * that the Graph pages, the token and the Key Vault reads are its children; it ends with the
 * summary's counts or the failure's code. The metrics are recorded at the end, from the summary
 * or the error's typed fields (RemovalsHeldError.removals; see telemetry.ts for what each counts).
 *
 * The run id: a new run takes the invocation's id, a resumed one keeps the id it started with.
 * The run's first checkpoint names it (the run plan writes one before any Graph read), so the
 * run lock is watched for it; `onRunId` then tells the caller, which puts it on its log lines.
 */

export interface RunObservation {
  /** The run lock, seen through: its first saved checkpoint says which run this is. */
  watch(lock: RunLock): RunLock;
  /** The progress callback, seen through: what this invocation read, also when it fails. */
  progress(onProgress: ((progress: SyncProgress) => void) | undefined): (progress: SyncProgress) => void;
}

export interface ObserveRunOptions {
  /** Called once, as soon as the run id is known: at the run's first checkpoint, right after the run plan's notices. */
  onRunId?: (runId: string) => void;
}

export function observeRun(
  invocation: RunInfo,
  mode: SyncMode,
  options: ObserveRunOptions,
  run: (observation: RunObservation) => Promise<SyncSummary>,
): Promise<SyncSummary> {
  const attributes = { [Attr.runId]: invocation.runId, [Attr.invocationId]: invocation.runId, [Attr.mode]: mode };
  return tracer().startActiveSpan(SpanNames.run, { attributes }, async (span) => {
    const started = performance.now();
    let known = false;
    let progress: SyncProgress = { pages: 0, entries: 0, messages: 0 };
    const identify = (runId: string): void => {
      if (known) return;
      known = true;
      span.setAttribute(Attr.runId, runId);
      options.onRunId?.(runId);
    };
    const observation: RunObservation = {
      watch: (lock) => ({
        found: lock.found,
        unreadable: lock.unreadable,
        save: (checkpoint) => {
          identify(checkpoint.runId);
          return lock.save(checkpoint);
        },
        release: () => lock.release(),
      }),
      progress: (onProgress) => (latest) => {
        progress = latest;
        onProgress?.(latest);
      },
    };
    try {
      const summary = await run(observation);
      recordSummary(span, summary, (performance.now() - started) / 1000);
      return summary;
    } catch (error) {
      recordFailure(span, error, mode, progress, (performance.now() - started) / 1000);
      throw error;
    } finally {
      span.end();
    }
  });
}

function recordSummary(span: Span, summary: SyncSummary, seconds: number): void {
  const measures = instruments();
  const common = { [Attr.mode]: summary.mode, [Attr.outcome]: summary.outcome };
  span.setAttributes({
    ...common,
    [Attr.runId]: summary.runId,
    [Attr.kind]: summary.sends,
    ...(summary.snapshotReason === null ? {} : { [Attr.snapshotReason]: summary.snapshotReason }),
    [Attr.resumed]: summary.resumed,
    ...(summary.resumedAtPage === undefined ? {} : { [Attr.resumedAtPage]: summary.resumedAtPage }),
    [Attr.pages]: summary.pages,
    [Attr.users]: summary.entries,
    [Attr.messages]: summary.messages,
    [Attr.snapshots]: summary.snapshots,
    [Attr.upserts]: summary.upserts,
    [Attr.removals]: summary.removals,
    [Attr.overflowed]: summary.overflowed,
    [Attr.retryMs]: Math.round(summary.retryMs),
    [Attr.deltaLinkAdvanced]: summary.deltaLinkAdvanced,
    [Attr.tokenFromCache]: summary.tokenFromCache,
  });
  measures.runs.add(1, common);
  measures.runDuration.record(seconds, common);
  if (summary.entries > 0) measures.usersRead.add(summary.entries, { [Attr.mode]: summary.mode });
  if (summary.outcome !== 'completed') return;
  const sent: [string, number][] = [
    [MessageTypes.snapshot, summary.snapshots],
    [MessageTypes.upserted, summary.upserts],
    [MessageTypes.removed, summary.removals],
    [MessageTypes.snapshotCompleted, summary.sends === 'snapshot' ? 1 : 0],
  ];
  for (const [type, count] of sent) if (count > 0) measures.messagesSent.add(count, { [Attr.mode]: summary.mode, [Attr.messageType]: type });
}

/** A failed (or held) run: its code, and what this invocation had read and written when it stopped. */
function recordFailure(span: Span, error: unknown, mode: SyncMode, progress: SyncProgress, seconds: number): void {
  const measures = instruments();
  const type = errorType(error);
  const common: Attributes = { [Attr.mode]: mode, [Attr.outcome]: 'failed', [Attr.errorType]: type };
  markFailed(span, error);
  span.setAttributes({ [Attr.outcome]: 'failed', [Attr.pages]: progress.pages, [Attr.users]: progress.entries, [Attr.messages]: progress.messages });
  measures.runs.add(1, common);
  measures.runDuration.record(seconds, common);
  if (progress.entries > 0) measures.usersRead.add(progress.entries, { [Attr.mode]: mode });
  if (isRemovalsHeld(error)) {
    span.setAttribute(Attr.removalsHeld, error.removals);
    measures.removalsHeld.add(error.removals, { [Attr.mode]: mode });
  }
}
