import { SyncErrorCodes, toSyncError } from '../core';
import type { RunInfo } from '../messages';
import { scopeKey } from '../settings';
import { ensureQueue } from '../queue';
import type { RunLock } from '../state';
import { CheckpointWriter } from './checkpoint-writer';
import type { RunContext } from './context';
import { RunCursor } from './cursor';
import { finishRun } from './finish';
import { isRemovalsHeld } from './errors';
import { RemovalGuard } from './guard';
import { readMembership, sendScopeChanges } from './group-scope';
import { startSnapshotFromNow } from './link-first';
import { planRun } from './plan';
import type { SyncRuntime } from './runtime';
import { observeRun, type RunObservation } from './telemetry';
import { QueueSink } from './sink';
import { completedSummary, lockedSummary, stoppedError } from './summary';
import type { RunSyncOptions, SyncSummary } from './types';
import { walkWithRestarts } from './walk';

export type { RunSyncOptions, SyncProgress, SyncSummary } from './types';

/**
 * The sync that joins the steps: settings → credential → token → Graph pages → messages → queue,
 * with the run state beside it. A runtime holds what should outlive one run (the cached secret,
 * msal's token cache, the storage clients); the Function keeps one per worker.
 *
 * A run takes the run lock, resumes the unfinished run it finds (same runId, from the saved page
 * link) or starts a new one, and saves the checkpoint after every page whose messages were all
 * accepted by the queue. It fails by throwing, so the Functions host's retry policy runs it again.
 *
 * @param run - this invocation's runId and start time (a resumed run keeps the ones it started with)
 * @returns the summary; `outcome: 'locked'` when another run held the lock and this one sent nothing
 * @throws SyncError: the failure with what this attempt did (RemovalsHeldError when the guard held it)
 */
export function runSync(runtime: SyncRuntime, run: RunInfo, options: RunSyncOptions = {}): Promise<SyncSummary> {
  // The run's span and metrics (telemetry.ts): the lock and the progress are watched for the run id and the counts.
  return observeRun(run, runtime.settings.mode, options, (observation) => runObserved(runtime, run, options, observation));
}

async function runObserved(runtime: SyncRuntime, run: RunInfo, options: RunSyncOptions, observation: RunObservation): Promise<SyncSummary> {
  const now = options.now ?? Date.now;
  const started = now();
  runtime.budget.reset();
  runtime.credential.startRun();
  let lock: RunLock;
  try {
    lock = observation.watch(await runtime.runState.lock());
  } catch (error) {
    const failure = toSyncError(error);
    if (failure.code !== SyncErrorCodes.runLocked) throw failure;
    options.onNotice?.(failure.message);
    return lockedSummary(runtime, run, Math.round(now() - started));
  }
  try {
    const ctx = startRun(runtime, lock, run, { ...options, onProgress: observation.progress(options.onProgress) });
    return await runLocked(ctx, () => Math.round(now() - started));
  } finally {
    await lock.release();
  }
}

/** The steps of a run, in order; each failure leaves the checkpoint at the last page the queue accepted. */
async function runLocked(ctx: RunContext, elapsed: () => number): Promise<SyncSummary> {
  const { runtime, cursor, writer } = ctx;
  await writer.save(cursor.checkpoint({ nextLink: cursor.startLink ?? null }));
  try {
    if (!runtime.queueReady) {
      await ensureQueue(runtime.queueClient, runtime.queueTarget);
      runtime.queueReady = true;
    }
    await readMembership(ctx);
    await startSnapshotFromNow(ctx);
    if (!cursor.walkDone) await walkWithRestarts(ctx);
    await writer.settle();
    await sendScopeChanges(ctx);
    const { deltaLinkAdvanced } = await finishRun(ctx);
    return completedSummary(ctx, deltaLinkAdvanced, runtime.budget.current().spentMs, elapsed());
  } catch (error) {
    // Messages already accepted stay; the checkpoint holds the last page whose sends all succeeded.
    await writer.abandon();
    if (isRemovalsHeld(error)) throw error;
    throw stoppedError(ctx, toSyncError(error), ctx.signal?.aborted === true);
  }
}

/** The run's shared objects: what the plan decided from the run state, the guard, the cursor, the sink and the writer. */
function startRun(runtime: SyncRuntime, lock: RunLock, invocation: RunInfo, options: RunSyncOptions): RunContext {
  const { settings } = runtime;
  const notice = options.onNotice ?? (() => undefined);
  if (lock.unreadable) notice(`The run state held something that is not a checkpoint of this version; it is replaced and a new run starts.`);
  // What the settings allow with a limit (a USER_FIELDS property delta does not track): once a run.
  for (const text of settings.fieldNotices) notice(text);
  const scope = scopeKey(settings.scope);
  // SYNC_GROUP_ID in delta mode: who is in scope is read at each run and compared with the last (scope.ts).
  const groupId = settings.mode === 'delta' ? settings.scope.groupId : undefined;
  const plan = planRun(lock.found, invocation, {
    mode: settings.mode,
    fields: settings.userFields,
    scope,
    group: groupId !== undefined,
    ...(options.forceFull === undefined ? {} : { forceFull: options.forceFull }),
  });
  for (const text of plan.notices) notice(text);
  const guard = new RemovalGuard({
    settings,
    knownUsers: plan.watermark.knownUsers,
    allowanceUsed: plan.watermark.allowanceUsed,
    allowRemovals: options.allowRemovals,
    runId: plan.run.runId,
  });
  for (const text of guard.notices) notice(text);
  const cursor = new RunCursor({ run: plan.run, plan, fields: settings.userFields, scope, now: options.now ?? Date.now }, guard.cap, guard.allowanceUsed);
  const sink = new QueueSink(runtime, () => cursor.messages++);
  return {
    runtime,
    settings,
    lock,
    plan,
    cursor,
    guard,
    sink,
    writer: new CheckpointWriter(lock, sink),
    group: groupId === undefined ? undefined : { groupId, members: undefined, sent: new Set(), joined: 0, left: 0 },
    invocation: { pages: 0, entries: 0, removalsSent: 0, tokenFromCache: undefined },
    notice,
    onProgress: options.onProgress,
    signal: options.abortSignal,
  };
}
