import type { SyncSettings } from '../settings';
import type { RunLock } from '../state';
import type { CheckpointWriter } from './checkpoint-writer';
import type { RunCursor } from './cursor';
import type { RemovalGuard } from './guard';
import type { RunPlan } from './plan';
import type { SyncRuntime } from './runtime';
import type { Membership } from './scope';
import type { QueueSink } from './sink';
import type { SyncProgress } from './types';

/**
 * What the steps of one run share, by name: the runtime, the plan, where the run stands (the
 * cursor), the guard, where messages go (the sink) and the checkpoint writes. Built once by the
 * run (sync.ts) and handed to each step; a step changes the run only through these objects.
 */
export interface RunContext {
  readonly runtime: SyncRuntime;
  readonly settings: SyncSettings;
  readonly lock: RunLock;
  readonly plan: RunPlan;
  readonly cursor: RunCursor;
  readonly guard: RemovalGuard;
  readonly sink: QueueSink;
  readonly writer: CheckpointWriter;
  /** SYNC_GROUP_ID in delta mode: who is in scope (GroupScope), else undefined. */
  readonly group: GroupState | undefined;
  /** What this invocation did (a resumed run's earlier invocations not included). */
  readonly invocation: InvocationCounts;
  readonly notice: (message: string) => void;
  readonly onProgress: ((progress: SyncProgress) => void) | undefined;
  readonly signal: AbortSignal | undefined;
}

/** The group scope of a delta run: the members now and before, and the members this attempt sent. */
export interface GroupState {
  readonly groupId: string;
  members: Membership | undefined;
  /** The members this attempt sent, so that a joiner is not read and sent twice. */
  readonly sent: Set<string>;
  joined: number;
  left: number;
}

export interface InvocationCounts {
  pages: number;
  /** Entries read: users and removals. */
  entries: number;
  removalsSent: number;
  tokenFromCache: boolean | undefined;
}
