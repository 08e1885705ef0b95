import type { FetchedUsersPage, PartitionState } from '../graph';
import { sequenceOf, type RunInfo, type SnapshotReason } from '../messages';
import { checkpointVersion, type RunCheckpoint, type RunSends } from '../state';
import type { RunPlan, WalkProgress } from './plan';
import { PendingRemovals } from './removals';

/**
 * Where a run stands: everything its checkpoint persists, in one object. The run's steps move it
 * (a page recorded, a walk restarted, a snapshot instead of changes) and ask it for the
 * checkpoint to save; nothing else of the run is saved.
 */

/** What stays the same for the whole run. */
export interface RunIdentity {
  readonly run: RunInfo;
  readonly plan: RunPlan;
  readonly fields: readonly string[];
  /** settings scopeKey. */
  readonly scope: string | null;
  readonly now: () => number;
}

/** A page's users sent as snapshots and upserts. */
export interface PageCounts {
  readonly snapshots: number;
  readonly upserts: number;
}

const noProgress: WalkProgress = { pages: 0, entries: 0, snapshots: 0, upserts: 0, removals: 0 };

export class RunCursor {
  sends: RunSends;
  snapshotReason: SnapshotReason | null;
  walk: number;
  progress: WalkProgress;
  /** Messages handed to the queue in this run (a resumed run's earlier ones included). */
  messages: number;
  /** Where the walk starts: a saved page link, the delta link, or undefined for the start URL. */
  startLink: string | undefined;
  walkDone: boolean;
  deltaNext: string | null;
  removals: PendingRemovals;
  membersNext: string | null;
  partitions: PartitionState[] | null;
  allowanceUsed: RunCheckpoint['allowanceUsed'];
  /** The position of the last entry of this walk given a sequence (the next is one more). */
  #position: number;

  constructor(
    readonly identity: RunIdentity,
    /** The removals kept in full (RemovalGuard.cap). */
    readonly removalCap: number,
    allowanceUsed: RunCheckpoint['allowanceUsed'],
  ) {
    const { plan } = identity;
    this.sends = plan.sends;
    this.snapshotReason = plan.snapshotReason;
    this.walk = plan.walk;
    this.progress = { ...plan.progress };
    this.messages = plan.messages;
    this.startLink = plan.nextLink ?? (plan.sends === 'changes' ? (plan.watermark.deltaLink ?? undefined) : undefined);
    this.walkDone = plan.walkDone;
    this.deltaNext = plan.deltaNext;
    this.removals = new PendingRemovals(removalCap, plan.pending, plan.progress.removals);
    this.membersNext = plan.membersNext;
    this.partitions = plan.partitions === null ? null : [...plan.partitions];
    this.allowanceUsed = allowanceUsed;
    this.#position = plan.progress.entries;
  }

  /** The first position of a page of `entries` entries, reserved for it (its sequences are the next `entries`). */
  reserve(entries: number): number {
    const first = this.#position + 1;
    this.#position += entries;
    return first;
  }

  /** The sequence of the message `offset` after the last entry of the walk (removals and joiners after a walk). */
  sequenceAfterWalk(offset: number): number {
    return sequenceOf(this.walk, this.progress.entries + offset);
  }

  /** A page whose messages were handed to the sender: counted, and where the walk (or its range) goes on from. */
  recordPage(page: FetchedUsersPage, counts: PageCounts, partition: number | undefined): RunCheckpoint {
    const { progress } = this;
    this.progress = {
      pages: progress.pages + 1,
      entries: progress.entries + page.entries.length,
      snapshots: progress.snapshots + counts.snapshots,
      upserts: progress.upserts + counts.upserts,
      removals: this.removals.count,
    };
    if (this.partitions !== null && partition !== undefined) {
      this.partitions[partition] = { ...(this.partitions[partition] as PartitionState), next: page.nextLink ?? null, done: page.nextLink === undefined };
      this.walkDone = this.partitions.every((p) => p.done);
    } else if (page.nextLink === undefined) {
      this.walkDone = true;
      // A group snapshot's delta link was taken before its walk ($deltatoken=latest).
      this.deltaNext = page.deltaLink ?? this.deltaNext;
    }
    return this.checkpoint({ nextLink: partition === undefined ? (page.nextLink ?? null) : null });
  }

  /** A new walk of the same run (same runId): from `startLink`, sending `sends`, counting from zero. */
  restart(startLink: string | undefined, resync?: { readonly reason: SnapshotReason }): void {
    if (resync !== undefined) {
      this.sends = 'snapshot';
      this.snapshotReason = resync.reason;
    }
    this.startLink = startLink;
    this.walk++;
    this.progress = noProgress;
    this.#position = 0;
    this.partitions = null;
    this.removals = new PendingRemovals(this.removalCap);
  }

  /** The checkpoint of where the run stands now, with `fields` over it. */
  checkpoint(fields: Partial<RunCheckpoint> = {}): RunCheckpoint {
    const { run, plan, scope } = this.identity;
    const { watermark } = plan;
    return {
      version: checkpointVersion,
      status: 'running',
      runId: run.runId,
      runAt: run.runAt.toISOString(),
      mode: plan.mode,
      fields: this.identity.fields,
      kind: this.sends,
      snapshotReason: this.snapshotReason,
      walk: this.walk,
      nextLink: null,
      walkDone: this.walkDone,
      deltaNext: this.deltaNext,
      deltaLink: watermark.deltaLink,
      deltaFields: watermark.deltaFields,
      scope,
      deltaScope: watermark.deltaScope,
      members: watermark.members,
      membersNext: this.membersNext,
      partitions: this.partitions === null ? null : [...this.partitions],
      pendingRemovals: this.removals.list(),
      pages: this.progress.pages,
      // The checkpoint's `users` (a persisted name) counts entries: users and removals.
      users: this.progress.entries,
      snapshots: this.progress.snapshots,
      upserts: this.progress.upserts,
      removals: this.removals.count,
      messages: this.messages,
      knownUsers: watermark.knownUsers,
      allowanceUsed: this.allowanceUsed,
      heldRemovals: null,
      attempts: plan.attempts,
      updatedAt: new Date(this.identity.now()).toISOString(),
      ...fields,
    };
  }
}
