import type { SyncError } from '../core';
import { stoppedOnRequest, withAttemptProgress } from './errors';
import type { RunInfo } from '../messages';
import { describeScope } from '../settings';
import type { RunContext } from './context';
import type { SyncRuntime } from './runtime';
import type { SyncSummary } from './types';

/** What a run reports: its summary when it completed or found the lock taken, its error when it stopped. */

/** Another run held the lock: this one sent nothing. */
export function lockedSummary(runtime: SyncRuntime, run: RunInfo, durationMs: number): SyncSummary {
  return {
    outcome: 'locked',
    runId: run.runId,
    runAt: run.runAt.toISOString(),
    mode: runtime.settings.mode,
    sends: 'changes',
    snapshotReason: null,
    snapshots: 0,
    upserts: 0,
    removals: 0,
    deltaLinkAdvanced: false,
    scope: describeScope(runtime.settings.scope),
    joined: 0,
    left: 0,
    resumed: false,
    resumedAtPage: undefined,
    pages: 0,
    entries: 0,
    messages: 0,
    overflowed: 0,
    retryMs: 0,
    durationMs,
    tokenFromCache: false,
    queue: runtime.queueTarget,
  };
}

export function completedSummary(ctx: RunContext, deltaLinkAdvanced: boolean, retryMs: number, durationMs: number): SyncSummary {
  const { cursor, plan, invocation } = ctx;
  const { run } = cursor.identity;
  return {
    outcome: 'completed',
    runId: run.runId,
    runAt: run.runAt.toISOString(),
    mode: plan.mode,
    sends: cursor.sends,
    snapshotReason: cursor.snapshotReason,
    snapshots: cursor.progress.snapshots,
    upserts: cursor.progress.upserts,
    removals: invocation.removalsSent,
    deltaLinkAdvanced,
    scope: describeScope(ctx.settings.scope),
    joined: ctx.group?.joined ?? 0,
    left: ctx.group?.left ?? 0,
    resumed: plan.resumed,
    resumedAtPage: plan.resumedAtPage,
    pages: invocation.pages,
    entries: invocation.entries,
    messages: ctx.sink.sent,
    overflowed: ctx.sink.overflowed,
    retryMs,
    durationMs,
    tokenFromCache: invocation.tokenFromCache ?? false,
    queue: ctx.runtime.queueTarget,
  };
}

/** The error a failed run throws: the failure, with what this attempt did and that the next one resumes. */
export function stoppedError(ctx: RunContext, failure: SyncError, interrupted: boolean): SyncError {
  const { runId } = ctx.cursor.identity.run;
  const { pages, entries } = ctx.invocation;
  const messages = ctx.sink.sent;
  const progress = { runId, entries, pages, messages };
  const cause = failure.cause ?? failure;
  // The details keep the name `users` that logs and tests read.
  if (interrupted) return stoppedOnRequest(progress, { cause, details: { runId, users: entries, pages, messages } });
  if (pages === 0 && messages === 0) return failure;
  return withAttemptProgress(failure, progress, { cause, details: { ...failure.details, runId, users: entries, pages, messages } });
}
