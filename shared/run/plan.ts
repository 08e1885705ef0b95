import type { PendingRemoval, RunCheckpoint, RunSends } from '../state';
import type { RunInfo, SnapshotReason } from '../messages';
import type { PartitionState } from '../graph';
import type { SyncMode } from '../settings';
import { count } from '../core';

/**
 * What a run does, decided once from the run state it found, the settings and the invocation:
 * resume an unfinished run, walk a held run's changes again, or start a new run (a snapshot of
 * every user, or the changes since the saved delta link). Pure, so every case is tested alone.
 */

/** What outlives runs: the delta watermark and the guard's bookkeeping. */
export interface Watermark {
  readonly deltaLink: string | null;
  readonly deltaFields: readonly string[] | null;
  /** The scope the delta link and the committed membership were read under. */
  readonly deltaScope: string | null;
  /** Group scope: the committed membership blob. */
  readonly members: string | null;
  readonly knownUsers: number | null;
  readonly allowanceUsed: RunCheckpoint['allowanceUsed'];
}

export interface WalkProgress {
  readonly pages: number;
  readonly entries: number;
  readonly snapshots: number;
  readonly upserts: number;
  readonly removals: number;
}

export interface RunPlan {
  readonly run: RunInfo;
  /** An unfinished or held run is carried on (same runId). */
  readonly resumed: boolean;
  /** The page it resumes at (1 = the start of a walk). */
  readonly resumedAtPage: number | undefined;
  readonly attempts: number;
  readonly mode: SyncMode;
  readonly sends: RunSends;
  readonly snapshotReason: SnapshotReason | null;
  readonly walk: number;
  /** The saved page link to continue from; undefined: the start of the walk. */
  readonly nextLink: string | undefined;
  readonly walkDone: boolean;
  readonly deltaNext: string | null;
  readonly progress: WalkProgress;
  /** Messages accepted so far in this run. */
  readonly messages: number;
  readonly pending: readonly PendingRemoval[];
  /** The ranges of a resumed partitioned walk (full mode); null: none yet, or one sequential walk. */
  readonly partitions: readonly PartitionState[] | null;
  /** The membership blob of a resumed run (group scope in delta mode). */
  readonly membersNext: string | null;
  readonly watermark: Watermark;
  /** What an operator should be told about the choice. */
  readonly notices: readonly string[];
}

export interface PlanOptions {
  readonly mode: SyncMode;
  readonly fields: readonly string[];
  /** settings.ts scopeKey: runs and delta links of another scope are not carried on. */
  readonly scope?: string | null;
  /** A group scope: a changes run needs the committed membership. */
  readonly group?: boolean;
  /** `--full`: one snapshot now, whatever the mode (in delta mode it also renews the delta link). */
  readonly forceFull?: boolean;
}

const noProgress: WalkProgress = { pages: 0, entries: 0, snapshots: 0, upserts: 0, removals: 0 };

/**
 * What this run does, from the run state it found (`found`), the invocation and the settings.
 * Every choice that is not the plain one comes with a notice saying why.
 */
export function planRun(found: RunCheckpoint | undefined, invocation: RunInfo, options: PlanOptions): RunPlan {
  const watermark: Watermark = {
    deltaLink: found?.deltaLink ?? null,
    deltaFields: found?.deltaFields ?? null,
    deltaScope: found?.deltaScope ?? null,
    members: found?.members ?? null,
    knownUsers: found?.knownUsers ?? null,
    allowanceUsed: found?.allowanceUsed ?? null,
  };
  const notices: string[] = [];
  const unfinished = found !== undefined && found.status !== 'finished' ? found : undefined;
  if (unfinished !== undefined) return planUnfinished(unfinished, invocation, watermark, notices, options);
  return planNew(invocation, watermark, notices, options);
}

/** An unfinished or held run: carried on if nothing it depends on changed, else a snapshot that covers it. */
function planUnfinished(unfinished: RunCheckpoint, invocation: RunInfo, watermark: Watermark, notices: string[], options: PlanOptions): RunPlan {
  const scope = options.scope ?? null;
  // A run's page links and delta link keep the $select they were issued with: other USER_FIELDS start over.
  const sameFields =
    unfinished.fields.join(',') === options.fields.join(',') &&
    (unfinished.status !== 'held' || unfinished.kind === 'snapshot' || unfinished.deltaFields?.join(',') === options.fields.join(','));
  // So do its scope's: a filter or a group is part of every page link.
  const sameScope = unfinished.scope === scope && (unfinished.status !== 'held' || unfinished.kind === 'snapshot' || unfinished.deltaScope === scope);
  const same = unfinished.mode === options.mode && options.forceFull !== true && sameFields && sameScope;
  if (same && unfinished.status === 'running') return resumeRunning(unfinished, watermark, notices);
  if (same && unfinished.status === 'held' && (unfinished.kind === 'snapshot' || unfinished.deltaLink !== null)) {
    notices.push(
      `Run ${unfinished.runId} was held back by the mass-deletion guard (${count(unfinished.heldRemovals ?? 0, 'removal')}); ` +
        (unfinished.kind === 'snapshot' ? 'it reads every user again' : 'it reads the changes again from the saved delta link') +
        ` (attempt ${unfinished.attempts + 1}, same runId).`,
    );
    return {
      ...fresh({ runId: unfinished.runId, runAt: new Date(unfinished.runAt) }, unfinished.kind, unfinished.snapshotReason, watermark, notices, options),
      resumed: true,
      resumedAtPage: 1,
      attempts: unfinished.attempts + 1,
      walk: unfinished.walk + 1,
      messages: unfinished.messages,
    };
  }
  notices.push(
    `The ${unfinished.status === 'held' ? 'held' : 'unfinished'} run ${unfinished.runId} (${unfinished.mode} mode) is not carried on: ` +
      (options.forceFull === true
        ? 'a full run was asked for'
        : unfinished.mode !== options.mode
          ? `SYNC_MODE is now ${options.mode}`
          : !sameFields
            ? 'USER_FIELDS changed since it started'
            : 'SYNC_GROUP_ID or USER_FILTER changed since it started') +
      '; this run sends a full snapshot instead, which covers it.',
  );
  return fresh(invocation, 'snapshot', options.mode === 'full' ? 'full-mode' : 'requested', watermark, notices, options);
}

/** A running run carried on where its checkpoint stands (same runId, the saved page link). */
function resumeRunning(unfinished: RunCheckpoint, watermark: Watermark, notices: string[]): RunPlan {
  const atPage = unfinished.pages + 1;
  notices.push(
    `Resuming run ${unfinished.runId} (started ${unfinished.runAt}, attempt ${unfinished.attempts + 1}) ` +
      (unfinished.walkDone ? 'after its last page' : `at page ${atPage}`) +
      `: ${count(unfinished.messages, 'message was', 'messages were')} accepted before it stopped; what it sends again carries the same message ids.`,
  );
  const { pages, users, snapshots, upserts, removals } = unfinished;
  return {
    run: { runId: unfinished.runId, runAt: new Date(unfinished.runAt) },
    resumed: true,
    resumedAtPage: atPage,
    attempts: unfinished.attempts + 1,
    mode: unfinished.mode,
    sends: unfinished.kind,
    snapshotReason: unfinished.snapshotReason,
    walk: unfinished.walk,
    nextLink: unfinished.nextLink ?? undefined,
    walkDone: unfinished.walkDone,
    deltaNext: unfinished.deltaNext,
    progress: { pages, entries: users, snapshots, upserts, removals },
    messages: unfinished.messages,
    pending: unfinished.pendingRemovals,
    membersNext: unfinished.membersNext,
    partitions: unfinished.partitions,
    watermark,
    notices,
  };
}

/** No run to carry on: a snapshot (full mode, --full, no usable delta link) or the changes since the delta link. */
function planNew(invocation: RunInfo, watermark: Watermark, notices: string[], options: PlanOptions): RunPlan {
  const scope = options.scope ?? null;
  if (options.mode === 'full') return fresh(invocation, 'snapshot', 'full-mode', watermark, notices, options);
  if (options.forceFull === true) return fresh(invocation, 'snapshot', 'requested', watermark, notices, options);
  if (watermark.deltaLink === null) return fresh(invocation, 'snapshot', 'first-delta', watermark, notices, options);
  if (watermark.deltaFields === null || watermark.deltaFields.join(',') !== options.fields.join(',')) {
    notices.push(
      `USER_FIELDS changed since the saved delta link was issued (it selects ${watermark.deltaFields?.join(',') ?? 'unknown fields'}): this run sends a full snapshot and renews the link.`,
    );
    return fresh(invocation, 'snapshot', 'requested', watermark, notices, options);
  }
  if (watermark.deltaScope !== scope) {
    notices.push(`SYNC_GROUP_ID changed since the saved delta link was issued: this run sends a full snapshot of the users now in scope and renews the link.`);
    return fresh(invocation, 'snapshot', 'requested', watermark, notices, options);
  }
  if (options.group === true && watermark.members === null) {
    notices.push(
      `The group membership the saved delta link goes with is not in the run state: this run sends a full snapshot of the group's members and renews both.`,
    );
    return fresh(invocation, 'snapshot', 'requested', watermark, notices, options);
  }
  return fresh(invocation, 'changes', null, watermark, notices, options);
}

function fresh(
  run: RunInfo,
  sends: RunPlan['sends'],
  snapshotReason: SnapshotReason | null,
  watermark: Watermark,
  notices: string[],
  options: PlanOptions,
): RunPlan {
  return {
    run,
    resumed: false,
    resumedAtPage: undefined,
    attempts: 1,
    mode: options.mode,
    sends: sends,
    snapshotReason,
    walk: 1,
    nextLink: undefined,
    walkDone: false,
    deltaNext: null,
    progress: noProgress,
    messages: 0,
    pending: [],
    membersNext: null,
    partitions: null,
    watermark,
    notices,
  };
}
