import type { RunCheckpoint } from '../state';
import { SyncError, SyncErrorCodes } from '../core';
import type { RunInfo, SnapshotReason } from '../messages';
import { PendingRemovals } from './removals';
import { planRun } from './plan';
import { readMemberIds, readPagesFrom, walkStartUrl, type SyncRuntime } from './runtime';
import { Membership, entryAction, outOfScope } from './scope';
import { removalThreshold, scopeKey, type SyncMode } from '../settings';

/**
 * A dry run (`npm run sync -- --once --dry-run`): reads what a run would read, from where it would
 * start (the saved delta link, the page an unfinished run would resume at, or the first page),
 * and reports what it would send, without writing anything: no message, no checkpoint, no lock
 * (the run state is only read), not even the queue or the containers are created.
 */

export interface DryRunReport {
  readonly mode: SyncMode;
  readonly kind: RunCheckpoint['kind'];
  readonly snapshotReason: SnapshotReason | null;
  /** The unfinished or held run a real run would carry on, and the page it would start at. */
  readonly resumes: { readonly runId: string; readonly atPage: number } | undefined;
  readonly pages: number;
  /** Users and removals read. */
  readonly entries: number;
  readonly snapshots: number;
  readonly upserts: number;
  readonly removals: number;
  /** SYNC_GROUP_ID in delta mode: members who joined since the last run (counted in upserts). */
  readonly joined: number;
  /** The mass-deletion guard: the threshold, the removals it counts (a snapshot's implied ones too), and whether it would hold the run. */
  readonly guard: { readonly threshold: number; readonly counted: number; readonly wouldHold: boolean };
  /** The first user ids of each kind (ids only: no personal data). */
  readonly samples: { readonly snapshot: readonly string[]; readonly upserted: readonly string[]; readonly removed: readonly string[] };
  /** Things a real run would say (a resync, a resumed run). */
  readonly notices: readonly string[];
}

export interface DryRunOptions {
  forceFull?: boolean;
  allowRemovals?: number;
  /** Ids shown per kind; default 5. */
  samples?: number;
  abortSignal?: AbortSignal;
}

// eslint-disable-next-line max-lines-per-function -- issue 21: being split
export async function dryRun(runtime: SyncRuntime, options: DryRunOptions = {}): Promise<DryRunReport> {
  const { settings } = runtime;
  runtime.budget.reset();
  runtime.credential.startRun();
  const found = await runtime.runState.peek();
  const invocation: RunInfo = { runId: 'dry-run', runAt: new Date() };
  const grouped = settings.mode === 'delta' && settings.scope.groupId !== undefined;
  const plan = planRun(found, invocation, {
    mode: settings.mode,
    fields: settings.userFields,
    scope: scopeKey(settings.scope),
    group: grouped,
    ...(options.forceFull === undefined ? {} : { forceFull: options.forceFull }),
  });
  const notices = [...plan.notices];
  const threshold = removalThreshold(settings.maxRemovals, plan.watermark.knownUsers);
  const limit = options.samples ?? 5;
  const samples = { snapshot: [] as string[], upserted: [] as string[], removed: [] as string[] };
  const sample = (list: string[], id: string): void => {
    if (list.length < limit) list.push(id);
  };

  let kind = plan.kind;
  let snapshotReason = plan.snapshotReason;
  let start: string | undefined = plan.nextLink ?? (kind === 'changes' ? (plan.watermark.deltaLink ?? undefined) : undefined);
  let pages = 0;
  let entries = 0;
  let snapshots = 0;
  let upserts = 0;
  let removals = new PendingRemovals(Math.max(threshold, options.allowRemovals ?? 0) + 1);
  const walkDone = plan.walkDone;
  // Group scope: the members now against those the last run saved (read only).
  let members: Membership | undefined;
  if (grouped) {
    const now = await readMemberIds(runtime, settings.scope.groupId, options.abortSignal);
    const previous = kind === 'changes' && plan.watermark.members !== null ? await runtime.membership.load(plan.watermark.members) : undefined;
    if (kind === 'changes' && previous === undefined)
      throw new SyncError(
        SyncErrorCodes.runStateFailed,
        'The group membership the saved delta link goes with is missing from the run state: a real run would stop; run npm run sync -- --once --full.',
      );
    members = new Membership(now, previous);
  }
  const sent = new Set<string>();

  for (let resynced = false; !walkDone;) {
    try {
      for await (const page of readPagesFrom(runtime, start ?? walkStartUrl(settings, plan.mode, kind), options.abortSignal)) {
        pages++;
        entries += page.entries.length;
        for (const entry of page.entries) {
          const action = entryAction(entry, kind, kind === 'changes' ? members : undefined);
          if (entry.kind === 'user' && action === 'upsert') {
            removals.cancel(entry.user.id);
            sent.add(entry.user.id.toLowerCase());
            upserts++;
            sample(samples.upserted, entry.user.id);
          } else if (entry.kind === 'user' && action === 'snapshot') {
            snapshots++;
            sample(samples.snapshot, entry.user.id);
          } else if (entry.kind === 'removed' && action === 'removal') {
            removals.add(entry.removed, entries);
          }
        }
      }
      break;
    } catch (error) {
      if (resynced || !(error instanceof SyncError) || error.code !== SyncErrorCodes.graphDeltaLinkExpired || kind !== 'changes') throw error;
      resynced = true;
      notices.push(`${error.message} A real run would send a full snapshot instead.`);
      const location = error.details['location'];
      start = typeof location === 'string' && members === undefined ? location : undefined;
      kind = 'snapshot';
      if (members !== undefined) members = new Membership(members.now, undefined);
      snapshotReason = 'resync';
      pages = entries = snapshots = upserts = 0;
      removals = new PendingRemovals(removals.cap);
    }
  }
  // Group scope: who left (removals, reason outOfScope) and who joined (upserts; not read here, only counted).
  let joined = 0;
  if (members !== undefined && kind === 'changes') {
    let position = entries;
    for (const id of members.leavers()) if (!removals.has(id)) removals.add({ id, reason: outOfScope }, ++position);
    joined = members.joiners(new Set()).length;
    for (const id of members.joiners(sent)) {
      upserts++;
      sample(samples.upserted, id);
    }
  }
  for (const removal of removals.list()) sample(samples.removed, removal.id);

  const counted =
    kind === 'snapshot'
      ? plan.watermark.knownUsers === null
        ? 0
        : Math.max(0, plan.watermark.knownUsers - snapshots - plan.progress.snapshots)
      : removals.count;
  const wouldHold = counted > threshold && (options.allowRemovals === undefined || counted > options.allowRemovals);
  return {
    mode: plan.mode,
    kind,
    snapshotReason,
    resumes: plan.resumed ? { runId: plan.run.runId, atPage: plan.resumedAtPage ?? 1 } : undefined,
    pages,
    entries,
    snapshots,
    upserts,
    removals: wouldHold ? 0 : removals.count,
    joined,
    guard: { threshold, counted, wouldHold },
    samples,
    notices,
  };
}
