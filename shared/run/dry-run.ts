import type { FetchedUsersPage, PartitionState } from '../graph';
import type { RunInfo, SnapshotReason } from '../messages';
import { scopeKey, type SyncMode } from '../settings';
import type { RunSends } from '../state';
import { previousMembers } from './group-scope';
import { RemovalGuard } from './guard';
import { countDecisions, decidePage, holdRemovals } from './page-step';
import { planRun, type RunPlan } from './plan';
import { PendingRemovals } from './removals';
import { resyncTakesLinkFirst, takesLinkFirst } from './link-first';
import { noRestarts, restartOf, resyncStart } from './restarts';
import { readMemberIds, walkStartUrl, type SyncRuntime } from './runtime';
import { Membership, outOfScope } from './scope';
import { walkRanges, walkRangesOrPages, type WalkOptions } from './walker';

/**
 * A dry run (`npm run sync -- --once --dry-run`): reads what a run would read, from where it would
 * start (the saved delta link, the page an unfinished run would resume at, or the first page),
 * and reports what it would send, without writing anything: no message, no checkpoint, no lock
 * (the run state is only read), not even the queue or the containers are created. It decides with
 * the run's own parts (plan.ts, guard.ts, page-step.ts, restarts.ts, the walker), so both agree.
 */

export interface DryRunReport {
  readonly mode: SyncMode;
  readonly sends: RunSends;
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
  /** The first user ids of each message type (ids only: no personal data). */
  readonly samples: { readonly snapshot: readonly string[]; readonly upserted: readonly string[]; readonly removed: readonly string[] };
  /** Things a real run would say (a resync, a resumed run). */
  readonly notices: readonly string[];
}

export interface DryRunOptions {
  forceFull?: boolean;
  allowRemovals?: number;
  /** Ids shown per message type; default 5. */
  samples?: number;
  abortSignal?: AbortSignal;
}

/** What a dry run has counted so far, in one walk. */
class DryWalk {
  pages = 0;
  entries = 0;
  snapshots = 0;
  upserts = 0;
  readonly sent = new Set<string>();
  readonly samples = { snapshot: [] as string[], upserted: [] as string[], removed: [] as string[] };
  constructor(
    readonly sends: RunSends,
    readonly removals: PendingRemovals,
    readonly members: Membership | undefined,
    readonly limit: number,
  ) {}
  sample(list: string[], id: string): void {
    if (list.length < this.limit) list.push(id);
  }
  page(page: FetchedUsersPage): void {
    const decisions = decidePage(page.entries, { sends: this.sends, walk: 1, members: this.members }, this.entries + 1);
    holdRemovals(decisions, this.removals);
    const counts = countDecisions(decisions);
    for (const d of decisions) if (d.action !== 'removal') this.sample(d.action === 'upsert' ? this.samples.upserted : this.samples.snapshot, d.user.id);
    for (const d of decisions) if (d.action === 'upsert') this.sent.add(d.user.id.toLowerCase());
    this.pages++;
    this.entries += page.entries.length;
    this.snapshots += counts.snapshots;
    this.upserts += counts.upserts;
  }
}

/** Reads as a run would and reports what it would send; writes nothing. */
export async function dryRun(runtime: SyncRuntime, options: DryRunOptions = {}): Promise<DryRunReport> {
  const { settings } = runtime;
  runtime.budget.reset();
  runtime.credential.startRun();
  const found = await runtime.runState.peek();
  const invocation: RunInfo = { runId: 'dry-run', runAt: new Date() };
  const groupId = settings.mode === 'delta' ? settings.scope.groupId : undefined;
  const plan = planRun(found, invocation, {
    mode: settings.mode,
    fields: settings.userFields,
    scope: scopeKey(settings.scope),
    group: groupId !== undefined,
    ...(options.forceFull === undefined ? {} : { forceFull: options.forceFull }),
  });
  const { watermark } = plan;
  const guard = new RemovalGuard({
    settings,
    knownUsers: watermark.knownUsers,
    allowanceUsed: watermark.allowanceUsed,
    allowRemovals: options.allowRemovals,
    runId: plan.run.runId,
  });
  const notices = [...settings.fieldNotices, ...plan.notices, ...guard.notices];
  // Group scope: the members now against those the last run saved (read only).
  let members: Membership | undefined;
  if (groupId !== undefined) {
    const now = await readMemberIds(runtime, groupId, options.abortSignal);
    members = new Membership(now, plan.sends === 'changes' ? await previousMembers(runtime, watermark.members) : undefined);
  }
  const walk = await walkAsARunWould(runtime, plan, guard, members, notices, options);
  return report(plan, guard, walk, notices);
}

/**
 * The walk, with the run's restarts: a refused delta link becomes a snapshot, an expired page link
 * starts again, ranges that cannot be trusted give way to one walk. A snapshot the run would read
 * from now (link-first.ts) reads /users here too; its link is not taken: nothing here keeps it.
 */
async function walkAsARunWould(
  runtime: SyncRuntime,
  plan: RunPlan,
  guard: RemovalGuard,
  members: Membership | undefined,
  notices: string[],
  options: DryRunOptions,
): Promise<DryWalk> {
  const { settings } = runtime;
  const limit = options.samples ?? 5;
  let walk = new DryWalk(plan.sends, new PendingRemovals(guard.cap), members, limit);
  let start: string | undefined = plan.nextLink ?? (plan.sends === 'changes' ? (plan.watermark.deltaLink ?? undefined) : undefined);
  let partitions = plan.partitions === null ? null : [...plan.partitions];
  const begun = { partitions, link: start, pagesRead: plan.progress.pages, sends: plan.sends, deltaNext: plan.deltaNext };
  let linkTaken = plan.deltaNext !== null || takesLinkFirst(settings, plan.mode, begun);
  const restarts = noRestarts();
  while (!plan.walkDone) {
    try {
      await walkOnce(runtime, plan, walk, { partitions, link: start, linkTaken }, options.abortSignal);
      break;
    } catch (error) {
      const restart = restartOf(error, restarts);
      if (restart === undefined) throw error;
      if (restart.kind === 'resync') {
        notices.push(`${restart.error.message} A real run would send a full snapshot instead.`);
        linkTaken = resyncTakesLinkFirst(settings, plan.mode);
        start = linkTaken ? undefined : resyncStart(restart.error);
        walk = new DryWalk('snapshot', new PendingRemovals(guard.cap), members?.asSnapshot(), limit);
      } else if (restart.kind === 'sequential') {
        notices.push(
          `${restart.error.message} A real run would read the users in one sequential walk instead (GRAPH_PARALLEL_READS=${settings.parallelReads}).`,
        );
        start = walkStartUrl(settings, plan.mode, walk.sends, linkTaken);
        walk = new DryWalk(walk.sends, new PendingRemovals(guard.cap), walk.members, limit);
      } else {
        notices.push('A page link expired; a real run would read the walk again from its start.');
        start =
          walk.sends === 'changes'
            ? (plan.watermark.deltaLink ?? undefined)
            : restarts.sequential
              ? walkStartUrl(settings, plan.mode, walk.sends, linkTaken)
              : undefined;
        walk = new DryWalk(walk.sends, new PendingRemovals(guard.cap), walk.members, limit);
      }
      partitions = null;
    }
  }
  return walk;
}

async function walkOnce(
  runtime: SyncRuntime,
  plan: RunPlan,
  walk: DryWalk,
  at: { readonly partitions: PartitionState[] | null; readonly link: string | undefined; readonly linkTaken: boolean },
  signal: AbortSignal | undefined,
): Promise<void> {
  const { settings } = runtime;
  const options: WalkOptions = { onPage: (page) => Promise.resolve(walk.page(page)), check: () => undefined, signal };
  const ranges = walkRanges(settings, plan.mode, {
    partitions: at.partitions,
    link: at.link,
    pagesRead: plan.progress.pages,
    sends: walk.sends,
    linkTaken: at.linkTaken,
  });
  await walkRangesOrPages(runtime, ranges, at.link ?? walkStartUrl(settings, plan.mode, walk.sends, at.linkTaken), options);
}

/** Group scope, after a changes walk: who left (removals, reason outOfScope) and who joined (counted as upserts, not read); then the guard. */
function report(plan: RunPlan, guard: RemovalGuard, walk: DryWalk, notices: readonly string[]): DryRunReport {
  const { members, removals, samples } = walk;
  let joined = 0;
  let upserts = walk.upserts;
  if (members !== undefined && walk.sends === 'changes') {
    let position = walk.entries;
    for (const id of members.leavers()) if (!removals.has(id)) removals.add({ id, reason: outOfScope }, ++position);
    joined = members.joiners(new Set()).length;
    for (const id of members.joiners(walk.sent)) {
      upserts++;
      walk.sample(samples.upserted, id);
    }
  }
  for (const removal of removals.list()) walk.sample(samples.removed, removal.id);
  const known = plan.watermark.knownUsers;
  const counted = walk.sends === 'snapshot' ? (known === null ? 0 : Math.max(0, known - walk.snapshots - plan.progress.snapshots)) : removals.count;
  const wouldHold = guard.verdict(counted).kind === 'held';
  return {
    mode: plan.mode,
    sends: walk.sends,
    snapshotReason: walk.sends === plan.sends ? plan.snapshotReason : 'resync',
    resumes: plan.resumed ? { runId: plan.run.runId, atPage: plan.resumedAtPage ?? 1 } : undefined,
    pages: walk.pages,
    entries: walk.entries,
    snapshots: walk.snapshots,
    upserts,
    removals: wouldHold ? 0 : removals.count,
    joined,
    guard: { threshold: guard.threshold, counted, wouldHold },
    samples,
    notices,
  };
}
