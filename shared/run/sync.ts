import { checkpointVersion, type RunCheckpoint, type RunLock } from '../state';
import { count, type RetryBudget, SyncError, SyncErrorCodes, toSyncError } from '../core';
import { type FetchedUsersPage, partitionStarts, type PartitionState } from '../graph';
import {
  buildRemovedMessage,
  buildSnapshotCompleted,
  buildUserMessage,
  encodeMessage,
  MessageTypes,
  overflowMessage,
  type RunInfo,
  sequenceOf,
  type SyncMessage,
} from '../messages';
import { ensureQueue, QueueSender } from '../queue';
import { PendingRemovals } from './removals';
import { planRun } from './plan';
import { latestDeltaLink, readMemberIds, readPagesFrom, readUsersById, walkStartUrl, type SyncRuntime } from './runtime';
import { observeRun, type RunObservation } from './telemetry';
import { Membership, entryAction, outOfScope } from './scope';
import type { RunSyncOptions, SyncSummary } from './types';
import { describeScope, describeThreshold, removalThreshold, scopeKey } from '../settings';

export type { RunSyncOptions, SyncProgress, SyncSummary } from './types';

/**
 * The sync that joins the steps: settings → credential → token → Graph pages → messages → queue,
 * with the run state (checkpoint.ts) beside it. A runtime holds what should outlive one run (the
 * cached secret, msal's token cache, the storage clients); the Function keeps one per worker.
 *
 * A run takes the run lock, resumes the unfinished run it finds (same runId, from the saved page
 * link) or starts a new one, and saves the checkpoint after every page whose messages were all
 * accepted by the queue. It fails by throwing, so the Functions host's retry policy runs it again.
 */

export function runSync(runtime: SyncRuntime, run: RunInfo, options: RunSyncOptions = {}): Promise<SyncSummary> {
  // The run's span and metrics (run-telemetry.ts): the lock and the progress are watched for the run id and the counts.
  return observeRun(run, runtime.settings.mode, options, (observation) => runObserved(runtime, run, options, observation));
}

async function runObserved(runtime: SyncRuntime, run: RunInfo, options: RunSyncOptions, observation: RunObservation): Promise<SyncSummary> {
  const now = options.now ?? Date.now;
  const notice = options.onNotice ?? (() => undefined);
  const started = now();
  const budget = runtime.budget.reset();
  runtime.credential.startRun();

  let lock: RunLock;
  try {
    lock = observation.watch(await runtime.runState.lock());
  } catch (error) {
    const failure = toSyncError(error);
    if (failure.code !== SyncErrorCodes.runLocked) throw failure;
    notice(failure.message);
    return {
      outcome: 'locked',
      runId: run.runId,
      runAt: run.runAt.toISOString(),
      mode: runtime.settings.mode,
      kind: 'changes',
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
      users: 0,
      messages: 0,
      overflowed: 0,
      retryMs: 0,
      durationMs: Math.round(now() - started),
      tokenFromCache: false,
      queue: runtime.queueTarget,
    };
  }

  try {
    return await runLocked(runtime, lock, run, budget, { ...options, onProgress: observation.progress(options.onProgress) }, started);
  } finally {
    await lock.release();
  }
}

// eslint-disable-next-line max-lines-per-function -- issue 21: being split
async function runLocked(
  runtime: SyncRuntime,
  lock: RunLock,
  invocation: RunInfo,
  budget: RetryBudget,
  options: RunSyncOptions,
  started: number,
): Promise<SyncSummary> {
  const now = options.now ?? Date.now;
  const notice = options.onNotice ?? (() => undefined);
  const { settings } = runtime;
  if (lock.unreadable) notice(`The run state held something that is not a checkpoint of this version; it is replaced and a new run starts.`);
  const scope = scopeKey(settings.scope);
  // SYNC_GROUP_ID in delta mode: who is in scope is read at each run and compared with the last (scope.ts).
  const grouped = settings.mode === 'delta' && settings.scope.groupId !== undefined;
  const plan = planRun(lock.found, invocation, {
    mode: settings.mode,
    fields: settings.userFields,
    scope,
    group: grouped,
    ...(options.forceFull === undefined ? {} : { forceFull: options.forceFull }),
  });
  for (const text of plan.notices) notice(text);
  const { run, attempts } = plan;
  const watermark = plan.watermark;

  // The guard: its threshold, and an allowance (the command line's, or the setting's if not used yet).
  const threshold = removalThreshold(settings.maxRemovals, watermark.knownUsers);
  let allowance = options.allowRemovals;
  let allowanceFromSetting = false;
  if (allowance === undefined && settings.allowRemovals !== undefined) {
    if (watermark.allowanceUsed?.value === settings.allowRemovals) {
      notice(
        `SYNC_ALLOW_REMOVALS=${settings.allowRemovals} was used once already (run ${watermark.allowanceUsed.runId}) and is ignored: remove the setting, or change it to allow another held run.`,
      );
    } else {
      allowance = settings.allowRemovals;
      allowanceFromSetting = true;
    }
  }
  let allowanceUsed = settings.allowRemovals === undefined ? null : watermark.allowanceUsed;

  // The walk's state, saved in the checkpoint after every page whose messages were all accepted.
  let kind = plan.kind;
  let snapshotReason = plan.snapshotReason;
  let walk = plan.walk;
  let progress = { ...plan.progress };
  let messages = plan.messages;
  let startLink: string | undefined = plan.nextLink ?? (kind === 'changes' ? (watermark.deltaLink ?? undefined) : undefined);
  let walkDone = plan.walkDone;
  let deltaNext = plan.deltaNext;
  const removalCap = Math.max(threshold, allowance ?? 0) + 1;
  let removals = new PendingRemovals(removalCap, plan.pending, plan.progress.removals);
  let membersNext = plan.membersNext;
  // Full mode, GRAPH_PARALLEL_READS above 1: /users in ranges walked side by side (partitions.ts).
  const partitionable = plan.mode === 'full' && settings.scope.groupId === undefined && settings.parallelReads > 1;
  let partitions: PartitionState[] | null = plan.partitions === null ? null : [...plan.partitions];
  /** The position of the last entry handed to the sender in this walk (the sequence of the next is one more). */
  let position = progress.users;
  let members: Membership | undefined;
  /** Group scope, changes: the members this attempt sent, so that a joiner is not read and sent twice. */
  const sentMembers = new Set<string>();
  let joined = 0;
  let left = 0;

  const checkpoint = (fields: Partial<RunCheckpoint> = {}): RunCheckpoint => ({
    version: checkpointVersion,
    status: 'running',
    runId: run.runId,
    runAt: run.runAt.toISOString(),
    mode: plan.mode,
    fields: settings.userFields,
    kind,
    snapshotReason,
    walk,
    nextLink: null,
    walkDone,
    deltaNext,
    deltaLink: watermark.deltaLink,
    deltaFields: watermark.deltaFields,
    scope,
    deltaScope: watermark.deltaScope,
    members: watermark.members,
    membersNext,
    partitions: partitions === null ? null : [...partitions],
    pendingRemovals: removals.list(),
    ...progress,
    removals: removals.count,
    messages,
    knownUsers: watermark.knownUsers,
    allowanceUsed,
    heldRemovals: null,
    attempts,
    updatedAt: new Date(now()).toISOString(),
    ...fields,
  });
  await lock.save(checkpoint({ nextLink: startLink ?? null }));

  let pages = 0;
  let users = 0;
  let overflowed = 0;
  let removalsSent = 0;
  let deltaLinkAdvanced = false;
  let tokenFromCache: boolean | undefined;
  const sender = new QueueSender(runtime.queueClient, settings.sendConcurrency, runtime.queueTarget);
  // Checkpoint writes, in page order, each after its page's sends were all accepted.
  let saving: Promise<void> = Promise.resolve();
  let saveFailure: SyncError | undefined;
  const settle = async (): Promise<void> => {
    await sender.drain();
    await saving;
    if (saveFailure !== undefined) throw saveFailure;
  };

  try {
    if (!runtime.queueReady) {
      await ensureQueue(runtime.queueClient, runtime.queueTarget);
      runtime.queueReady = true;
    }
    if (grouped) await readMembership();
    if (!walkDone) await walkWithRestarts();
    await settle();
    if (members !== undefined && kind === 'changes') await sendScopeChanges(members);

    let finished: Partial<RunCheckpoint>;
    if (kind === 'snapshot') {
      // The marker lets the consumer drop every user the snapshot left out: as many removals as the
      // snapshot is short of the last one, which the guard counts too (an expired delta link must
      // not become a way round it).
      const implied = watermark.knownUsers === null ? 0 : Math.max(0, watermark.knownUsers - progress.snapshots);
      await guard(
        implied,
        `would let the consumer drop ${count(implied, 'user')} (the last full snapshot had ${watermark.knownUsers ?? 0}, this one ${progress.snapshots}; snapshot.completed was not sent)`,
      );
      await sendMessage(buildSnapshotCompleted(progress.snapshots, snapshotReason ?? 'requested', run, sequenceOf(walk, progress.users + 1)));
      await settle();
      finished = {
        deltaLink: plan.mode === 'delta' ? deltaNext : watermark.deltaLink,
        deltaFields: plan.mode === 'delta' ? settings.userFields : watermark.deltaFields,
        deltaScope: plan.mode === 'delta' ? scope : watermark.deltaScope,
        members: plan.mode === 'delta' ? membersNext : watermark.members,
        knownUsers: progress.snapshots,
      };
    } else {
      await guard(removals.count, `would send ${count(removals.count, 'removal')}`);
      for (const removal of removals.list()) {
        await sendMessage(buildRemovedMessage(removal, run, removal.sequence));
        removalsSent++;
      }
      await settle();
      finished = { deltaLink: deltaNext, deltaFields: settings.userFields, deltaScope: scope, members: membersNext };
    }
    deltaLinkAdvanced = plan.mode === 'delta' && deltaNext !== null && deltaNext !== watermark.deltaLink;
    await lock.save(
      checkpoint({
        status: 'finished',
        walkDone: true,
        deltaNext: null,
        membersNext: null,
        pendingRemovals: [],
        removals: removals.count,
        allowanceUsed,
        ...finished,
      }),
    );
    if (watermark.members !== null && watermark.members !== finished.members) await runtime.membership.remove(watermark.members);
  } catch (error) {
    // Messages already accepted stay; the checkpoint holds the last page whose sends all succeeded.
    await sender.drain().catch(() => undefined);
    await saving.catch(() => undefined);
    if (error instanceof SyncError && error.code === SyncErrorCodes.removalsHeld) throw error;
    throw stopped(toSyncError(error), options.abortSignal?.aborted === true);
  }

  return {
    outcome: 'completed',
    runId: run.runId,
    runAt: run.runAt.toISOString(),
    mode: plan.mode,
    kind,
    snapshotReason,
    snapshots: progress.snapshots,
    upserts: progress.upserts,
    removals: removalsSent,
    deltaLinkAdvanced,
    scope: describeScope(settings.scope),
    joined,
    left,
    resumed: plan.resumed,
    resumedAtPage: plan.resumedAtPage,
    pages,
    users,
    messages: sender.sent,
    overflowed,
    retryMs: budget.spentMs,
    durationMs: Math.round(now() - started),
    tokenFromCache: tokenFromCache ?? false,
    queue: runtime.queueTarget,
  };

  /** The walk; a refused delta link turns it into a resync, an expired page link starts it again, each once. */
  async function walkWithRestarts(): Promise<void> {
    let resynced = false;
    let restarted = false;
    for (;;) {
      try {
        await sendPages(startLink);
        return;
      } catch (error) {
        const code = error instanceof SyncError ? error.code : undefined;
        const resync = code === SyncErrorCodes.graphDeltaLinkExpired && kind === 'changes' && !resynced;
        const restart = code === SyncErrorCodes.graphPageLinkExpired && !restarted;
        if (!resync && !restart) throw error;
        // A drained queue first: the new walk re-sends, and the checkpoint must not advance from the old pages.
        await sender.drain();
        await saving;
        if (resync) {
          resynced = true;
          const location = (error as SyncError).details['location'];
          notice(
            `${(error as SyncError).message} Run ${run.runId} sends a full snapshot instead (messages of type user.snapshot, then snapshot.completed), ` +
              `and the next run carries on with changes from the new delta link.`,
          );
          kind = 'snapshot';
          snapshotReason = 'resync';
          // Under a group the snapshot reads the members, and the new delta link is "latest".
          startLink = typeof location === 'string' && members === undefined ? location : undefined;
          if (members !== undefined) {
            members = new Membership(members.now, undefined);
            deltaNext = null;
            await startGroupSnapshot();
          }
        } else {
          restarted = true;
          notice(
            `The ${startLink !== undefined && pages === 0 ? 'saved ' : ''}page link of run ${run.runId} has expired; the run reads ` +
              `${kind === 'changes' ? 'the changes again from the saved delta link' : 'everything again from the first page'} under the same runId ` +
              `(what was sent already is sent again with the same message ids).`,
          );
          startLink = kind === 'changes' ? (watermark.deltaLink ?? undefined) : undefined;
        }
        walk++;
        progress = { pages: 0, users: 0, snapshots: 0, upserts: 0, removals: 0 };
        position = 0;
        partitions = null;
        removals = new PendingRemovals(removalCap);
      }
    }
  }

  async function sendPages(from: string | undefined): Promise<void> {
    if (partitions === null && partitionable && from === undefined && progress.pages === 0) {
      partitions = partitionStarts(settings.graphBaseUrl, settings.userFields, { filter: settings.scope.filter });
    }
    if (partitions !== null) return sendPartitions(partitions);
    await walkPages(from ?? walkStartUrl(settings, plan.mode, kind), undefined, options.abortSignal);
  }

  /**
   * The ranges not done yet, GRAPH_PARALLEL_READS at a time. The first failure stops the others
   * (their requests are aborted and what they handed to the sender drains) and is what the walk
   * fails with; the checkpoint keeps where each range stands, so a resumed run carries each on.
   */
  async function sendPartitions(states: PartitionState[]): Promise<void> {
    const stop = new AbortController();
    const signal = options.abortSignal === undefined ? stop.signal : AbortSignal.any([options.abortSignal, stop.signal]);
    const pending = states.flatMap((state, index) => (state.done ? [] : [index]));
    let failure: Error | undefined;
    const worker = async (): Promise<void> => {
      for (let index = pending.shift(); index !== undefined && failure === undefined; index = pending.shift()) {
        const state = states[index] as PartitionState;
        await walkPages(state.next ?? state.start, index, signal);
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(settings.parallelReads, pending.length) }, () =>
        worker().catch((error: unknown) => {
          failure ??= error instanceof Error ? error : toSyncError(error);
          stop.abort();
        }),
      ),
    );
    if (failure !== undefined) throw failure;
  }

  /** One walk of pages from `url`: page n+1 is fetched while page n's messages are being sent. */
  async function walkPages(url: string, partition: number | undefined, signal: AbortSignal | undefined): Promise<void> {
    const pageIterator = readPagesFrom(runtime, url, signal)[Symbol.asyncIterator]();
    let next = pageIterator.next();
    for (;;) {
      const result = await next;
      if (result.done === true) break;
      if (saveFailure !== undefined) throw saveFailure;
      if (signal?.aborted === true) {
        await pageIterator.return(undefined);
        throw new SyncError(SyncErrorCodes.runInterrupted, 'The run was asked to stop.');
      }
      next = pageIterator.next();
      next.catch(() => undefined); // observed below; avoid an unhandled rejection if sending fails first
      await sendPage(result.value, partition);
    }
  }

  async function sendPage(page: FetchedUsersPage, partition: number | undefined): Promise<void> {
    tokenFromCache ??= runtime.graphCredential.lastFromCache;
    let snapshots = 0;
    let upserts = 0;
    for (const entry of page.entries) {
      position++;
      const sequence = sequenceOf(walk, position);
      // A group snapshot reads the group's members: nothing to leave out.
      const action = entryAction(entry, kind, kind === 'changes' ? members : undefined);
      if (entry.kind === 'user' && (action === 'upsert' || action === 'snapshot')) {
        if (action === 'upsert') {
          removals.cancel(entry.user.id);
          upserts++;
          if (members !== undefined) sentMembers.add(entry.user.id.toLowerCase());
        } else {
          snapshots++;
        }
        await sendMessage(buildUserMessage(entry.user, action === 'upsert' ? MessageTypes.upserted : MessageTypes.snapshot, run, sequence));
      } else if (entry.kind === 'removed' && action === 'removal') {
        removals.add(entry.removed, sequence);
      }
    }
    pages++;
    users += page.entries.length;
    progress = {
      pages: progress.pages + 1,
      users: progress.users + page.entries.length,
      snapshots: progress.snapshots + snapshots,
      upserts: progress.upserts + upserts,
      removals: removals.count,
    };
    if (partitions !== null && partition !== undefined) {
      partitions[partition] = { ...(partitions[partition] as PartitionState), next: page.nextLink ?? null, done: page.nextLink === undefined };
      walkDone = partitions.every((p) => p.done);
    } else if (page.nextLink === undefined) {
      walkDone = true;
      // A group snapshot's delta link was taken before its walk ($deltatoken=latest).
      deltaNext = page.deltaLink ?? deltaNext;
    }
    const state = checkpoint({ nextLink: partition === undefined ? (page.nextLink ?? null) : null });
    const accepted = sender.barrier();
    saving = saving.then(async () => {
      if (saveFailure !== undefined || !(await accepted)) return;
      try {
        await lock.save(state);
      } catch (error) {
        saveFailure ??= toSyncError(error);
      }
    });
    options.onProgress?.({ pages, users, messages: sender.sent });
  }

  /**
   * Group scope: the member ids now (read once per run and saved, so a resumed run filters its
   * walk with the same ones), the last run's for a changes walk, and for a snapshot the delta
   * link to carry on from afterwards.
   */
  async function readMembership(): Promise<void> {
    const groupId = settings.scope.groupId as string;
    let now = membersNext === null ? undefined : await runtime.membership.load(membersNext);
    if (now === undefined) {
      const stale = lock.found?.membersNext;
      now = await readMemberIds(runtime, groupId, options.abortSignal);
      membersNext = runtime.membership.nameFor(run.runId, attempts);
      await runtime.membership.save(membersNext, now);
      if (stale !== undefined && stale !== null && stale !== membersNext && stale !== watermark.members) await runtime.membership.remove(stale);
    }
    let previous: Set<string> | undefined;
    if (kind === 'changes') {
      previous = watermark.members === null ? undefined : await runtime.membership.load(watermark.members);
      if (previous === undefined) {
        throw new SyncError(
          SyncErrorCodes.runStateFailed,
          `The group membership ${watermark.members ?? ''} the saved delta link goes with is missing from the run state: run npm run sync -- --once --full (or set SYNC_MODE=full for one run) to send a new snapshot of the group.`,
        );
      }
    }
    members = new Membership(now, previous);
    if (kind === 'snapshot' && !walkDone && deltaNext === null) await startGroupSnapshot();
    await lock.save(checkpoint({ nextLink: startLink ?? null }));
  }

  /** A group snapshot reads the members; the delta link for the next run is taken first, so no change is missed. */
  async function startGroupSnapshot(): Promise<void> {
    deltaNext = (await latestDeltaLink(runtime, options.abortSignal)) ?? null;
    if (deltaNext === null)
      throw new SyncError(SyncErrorCodes.graphResponseInvalid, 'Graph answered /users/delta?$deltatoken=latest without an @odata.deltaLink.');
  }

  /**
   * Group scope, after a changes walk: members who left (user.removed, reason outOfScope, counted
   * by the guard with the other removals) and members who joined (user.upserted with the whole
   * record, read by id; those the walk sent already are not read again).
   */
  async function sendScopeChanges(scoped: Membership): Promise<void> {
    let position = progress.users;
    // A member deleted since is a removal with Graph's reason already.
    const leavers = scoped.leavers().filter((id) => !removals.has(id));
    for (const id of leavers) removals.add({ id, reason: outOfScope }, sequenceOf(walk, ++position));
    left = leavers.length;
    joined = scoped.joiners(new Set()).length;
    const joiners = scoped.joiners(sentMembers);
    let upserts = 0;
    for await (const page of readUsersById(runtime, joiners, options.abortSignal)) {
      for (const entry of page.entries) {
        if (entry.kind !== 'user') continue;
        removals.cancel(entry.user.id);
        upserts++;
        await sendMessage(buildUserMessage(entry.user, MessageTypes.upserted, run, sequenceOf(walk, ++position)));
      }
    }
    progress = { ...progress, upserts: progress.upserts + upserts, removals: removals.count };
    await settle();
  }

  async function sendMessage(message: SyncMessage): Promise<void> {
    let text = encodeMessage(message, settings.messageEncoding);
    if (text === undefined && message.type !== MessageTypes.removed && message.type !== MessageTypes.snapshotCompleted) {
      const reference = await runtime.overflow.put(message);
      overflowed++;
      text = encodeMessage(overflowMessage(message, reference), settings.messageEncoding);
    }
    if (text === undefined)
      throw new SyncError(SyncErrorCodes.overflowFailed, `The ${message.type} message ${message.messageId} is over the queue's limit even as a claim check.`);
    messages++;
    await sender.enqueue(text);
  }

  /**
   * The mass-deletion guard: more than the threshold of removals (sent, or implied by a snapshot)
   * holds the run unless allowed once; a held run saves `held` and throws REMOVALS_HELD.
   */
  async function guard(removed: number, what: string): Promise<void> {
    if (removed <= threshold) return;
    if (allowance === undefined || removed > allowance) {
      await lock.save(checkpoint({ status: 'held', walkDone: false, deltaNext: null, pendingRemovals: [], removals: removals.count, heldRemovals: removed }));
      throw removalsHeldError(removed, what, allowance);
    }
    notice(
      `Letting ${count(removed, 'removal')} through, over the guard's ${describeThreshold(settings.maxRemovals, watermark.knownUsers)}: allowed once by ${allowanceFromSetting ? `SYNC_ALLOW_REMOVALS=${allowance}` : `--allow-removals ${allowance}`}.`,
    );
    if (allowanceFromSetting) allowanceUsed = { value: allowance, runId: run.runId };
  }

  function removalsHeldError(held: number, what: string, allowed: number | undefined): SyncError {
    const sent =
      kind === 'snapshot'
        ? `the run's ${count(progress.snapshots, 'user')} were sent as user.snapshot`
        : `the run's ${count(progress.upserts, 'upsert')} were sent`;
    return new SyncError(
      SyncErrorCodes.removalsHeld,
      `Mass-deletion guard: run ${run.runId} ${what}, more than the ${describeThreshold(settings.maxRemovals, watermark.knownUsers)} allowed` +
        (allowed === undefined ? '' : ` and more than the ${allowed} allowed once`) +
        `. No removal was sent and the delta link stays where it was; ${sent}. ` +
        `If the deletions are intended, allow them once: npm run sync -- --once --allow-removals ${held}, or set SYNC_ALLOW_REMOVALS=${held} ` +
        `(used by one run, then ignored until changed). If not, restore the users (soft-deleted users can be restored for 30 days); each run checks again.`,
      { details: { runId: run.runId, removals: held, threshold, upserts: progress.upserts } },
    );
  }

  function stopped(failure: SyncError, interrupted: boolean): SyncError {
    const where = `run ${run.runId} had read ${count(users, 'user')} in ${count(pages, 'page')} and written ${count(sender.sent, 'message')} in this attempt`;
    const resume = `the checkpoint holds the last page whose messages were all accepted; the next run (or the host's retry) resumes there`;
    if (interrupted) {
      return new SyncError(SyncErrorCodes.runInterrupted, `Stopped on request: ${where}; those stay in the queue, and ${resume}.`, {
        cause: failure.cause ?? failure,
        details: { runId: run.runId, users, pages, messages: sender.sent },
      });
    }
    if (pages === 0 && sender.sent === 0) return failure;
    return new SyncError(failure.code, `${failure.message}\nThe ${where} before it stopped; those stay in the queue, and ${resume}.`, {
      cause: failure.cause ?? failure,
      details: { ...failure.details, runId: run.runId, users, pages, messages: sender.sent },
    });
  }
}
