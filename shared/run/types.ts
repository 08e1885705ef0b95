import type { RunSends } from '../state';
import type { SnapshotReason } from '../messages';
import type { SyncMode } from '../settings';

/**
 * The run's contract with its callers and its telemetry: what `runSync` takes (RunSyncOptions),
 * reports while it goes (SyncProgress) and returns (SyncSummary). Its own file so that
 * telemetry.ts and sync.ts both import it and not each other.
 */

/** What this invocation did so far, reported after each page (and kept by the telemetry if the run fails). */
export interface SyncProgress {
  /** This invocation's pages, users read (entries: users and removals) and messages accepted. */
  readonly pages: number;
  readonly entries: number;
  readonly messages: number;
}

/** What a run returns: its outcome and counts, the log line and the summary metrics come from it. */
export interface SyncSummary extends SyncProgress {
  /** `completed`, or `locked`: another run held the run lock and this one sent nothing. */
  readonly outcome: 'completed' | 'locked';
  readonly runId: string;
  readonly runAt: string;
  readonly mode: SyncMode;
  /** `snapshot`: every user (user.snapshot, then snapshot.completed); `changes`: what changed since the delta link. */
  readonly sends: RunSends;
  readonly snapshotReason: SnapshotReason | null;
  /** Messages of each type this run sent (the whole run, a resumed one included). */
  readonly snapshots: number;
  readonly upserts: number;
  readonly removals: number;
  /** Whether the saved delta link moved on (delta mode: the run's changes are all in the queue). */
  readonly deltaLinkAdvanced: boolean;
  /** Who is synced (SYNC_GROUP_ID, USER_FILTER), in words. */
  readonly scope: string;
  /** SYNC_GROUP_ID in delta mode: members who joined (sent as upserts) and left (removals, reason outOfScope) since the last run. */
  readonly joined: number;
  readonly left: number;
  /** Whether this invocation resumed an unfinished run (and from which page). */
  readonly resumed: boolean;
  readonly resumedAtPage: number | undefined;
  /** Messages that went through the claim check (over 64 KiB). */
  readonly overflowed: number;
  /** Time spent on failed attempts and waiting between them. */
  readonly retryMs: number;
  readonly durationMs: number;
  /** Whether the run's Graph token came from msal's in-memory cache. */
  readonly tokenFromCache: boolean;
  readonly queue: string;
}

/** What the caller of `runSync` (the Function, `npm run sync`) may hook into or change for one run. */
export interface RunSyncOptions {
  /** Called after each Graph page has been handed to the queue sender. */
  onProgress?: (progress: SyncProgress) => void;
  /** Things an operator should know that are not failures (a resumed run, an expired link). */
  onNotice?: (message: string) => void;
  /** The run's id, once known (a new run: the invocation's; a resumed run: the one it started with), at the run's first checkpoint, before any Graph read; notices before it belong to the same run. */
  onRunId?: (runId: string) => void;
  /** Stops the run cleanly: no more Graph reads, sends in flight drained, checkpoint saved. */
  abortSignal?: AbortSignal;
  /** One full snapshot now, whatever SYNC_MODE says (`npm run sync -- --once --full`). */
  forceFull?: boolean;
  /** Lets this run send up to this many removals past the guard (`--allow-removals N`). */
  allowRemovals?: number;
  /** Default Date.now, for durations. */
  now?: () => number;
}
