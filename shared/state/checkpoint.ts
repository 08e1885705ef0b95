import type { BlobLeaseClient, BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import { describeCause, isIdentityError, isNetworkError, SyncError } from '../core';
import type { SnapshotReason } from '../messages';
import type { PartitionState } from '../graph';
import { createStorageError, ensureContainer, StorageErrorCodes, storageErrorCode } from '../storage';
import { createStateError, type StateAction, StateErrorCodes } from './errors';

/**
 * The run's state in Blob Storage, one blob per target queue: which run is going on, where it
 * stands (the link of the next page not yet fully sent), and counts. It is what lets a retry, or
 * the next scheduled run, resume a failed run instead of starting over.
 *
 * The blob is also the run lock: a run holds a 60-second lease on it, renewed while it runs, and
 * every write names that lease, so two overlapping runs can never both advance it; the second
 * stops at once. A run that dies without releasing the lease frees it within 60 s.
 */

export const checkpointVersion = 2;

/** A removal read in a delta walk and held back until the walk ends (the mass-deletion guard counts them first). */
export interface PendingRemoval {
  readonly id: string;
  readonly reason: string;
  /** The message's sequence: where the walk read it. */
  readonly sequence: number;
}

/**
 * The run state. Two parts: the watermark that outlives runs (`deltaLink`, `knownUsers`,
 * `allowanceUsed`), and the progress of the current or last run.
 */
/**
 * What a run sends: `snapshot`, every user (user.snapshot, then snapshot.completed); `changes`,
 * what changed since the saved delta link. The run's code calls it `sends`; the checkpoint and the
 * telemetry (`sync.kind`) keep the name `kind` they were first written with.
 */
export type RunSends = 'snapshot' | 'changes';

export interface RunCheckpoint {
  readonly version: typeof checkpointVersion;
  /**
   * `running`: a run is going on or failed and will be resumed; `held`: the mass-deletion guard
   * held the run's removals back (the next run walks again from `deltaLink`, same runId);
   * `finished`: nothing to resume.
   */
  readonly status: 'running' | 'held' | 'finished';
  readonly runId: string;
  /** ISO 8601: when the run first started. */
  readonly runAt: string;
  /** `full`: GET /users; `delta`: GET /users/delta. */
  readonly mode: 'full' | 'delta';
  /** The USER_FIELDS of this run's walk: its page links keep that $select, so other fields cannot resume it. */
  readonly fields: readonly string[];
  /** What the run sends (RunSends), persisted under its first name. */
  readonly kind: RunSends;
  /** Why a snapshot (null for changes). */
  readonly snapshotReason: SnapshotReason | null;
  /** Walks of this run (a restart from the first page, or from the delta link, starts a new one). */
  readonly walk: number;
  /** The next page not yet fully accepted by the queue; null: the walk's first page (or, with walkDone, none). */
  readonly nextLink: string | null;
  /** Every page of the walk was accepted; what is left is the end of the run (removals, marker). */
  readonly walkDone: boolean;
  /** The @odata.deltaLink the walk ended with: becomes `deltaLink` when the run finishes. */
  readonly deltaNext: string | null;
  /** The committed watermark: where the next changes run starts; null: none (the next delta run is a snapshot). */
  readonly deltaLink: string | null;
  /** The USER_FIELDS the delta link selects (a link keeps its $select: other fields need a new snapshot). */
  readonly deltaFields: readonly string[] | null;
  /** The scope of this run (SYNC_GROUP_ID, USER_FILTER; settings.ts scopeKey): its page links keep it. null: every user. */
  readonly scope: string | null;
  /** The scope the delta link and `members` were read under. */
  readonly deltaScope: string | null;
  /** Group scope in delta mode: the committed membership blob (who was in scope at the delta link). */
  readonly members: string | null;
  /** Group scope in delta mode: this run's membership blob, committed as `members` when the run finishes. */
  readonly membersNext: string | null;
  /** Full mode, GRAPH_PARALLEL_READS above 1: where each range of the walk stands (partitions.ts); null: one sequential walk (`nextLink`). */
  readonly partitions: readonly PartitionState[] | null;
  /** Removals of this walk not yet sent (at most the guard's limit or allowance, plus one). */
  readonly pendingRemovals: readonly PendingRemoval[];
  /** Distinct removals read in this walk (more than pendingRemovals when over the cap). */
  readonly removals: number;
  /** Pages and entries (users and removals) read in this walk, messages accepted in this run. */
  readonly pages: number;
  readonly users: number;
  readonly messages: number;
  /** Snapshot users and upserts sent in this walk. */
  readonly snapshots: number;
  readonly upserts: number;
  /** Users in the last finished snapshot (the base of a percentage in SYNC_MAX_REMOVALS); null: none yet. */
  readonly knownUsers: number | null;
  /** The SYNC_ALLOW_REMOVALS value a run has used, and which run: ignored until the setting changes. */
  readonly allowanceUsed: { readonly value: number; readonly runId: string } | null;
  /** Removals the guard held back (status held). */
  readonly heldRemovals: number | null;
  /** Invocations that worked on this run (1 for a run that never failed). */
  readonly attempts: number;
  readonly updatedAt: string;
}

export interface RunLock {
  /** What the blob held when the lock was taken (undefined: never written, or unreadable). */
  readonly found: RunCheckpoint | undefined;
  /** Set when the blob held something that is not a checkpoint (it is then overwritten). */
  readonly unreadable: boolean;
  save(checkpoint: RunCheckpoint): Promise<void>;
  release(): Promise<void>;
}

export interface RunStateOptions {
  /** 15-60; default 60. */
  leaseSeconds?: number;
  /** Default a third of the lease. */
  renewEveryMs?: number;
}

export class RunStateStore {
  #containerReady = false;

  constructor(
    private readonly container: ContainerClient,
    /** e.g. `users.json`: one run state per target queue. */
    private readonly blobName: string,
    /** For messages: where the state lives. */
    private readonly where: string,
    private readonly options: RunStateOptions = {},
  ) {}

  /** What the run state holds now, read without the lock and without writing anything (a dry run); undefined when there is none. */
  async peek(): Promise<RunCheckpoint | undefined> {
    const blob = this.container.getBlockBlobClient(this.blobName);
    try {
      return parseCheckpoint((await blob.downloadToBuffer()).toString('utf8'));
    } catch (error) {
      if ((error as { statusCode?: unknown }).statusCode === 404) return undefined;
      throw this.#failure(error, 'read');
    }
  }

  /** Takes the run lock, or throws RUN_LOCKED when another run holds it. */
  async lock(): Promise<RunLock> {
    const blob = this.container.getBlockBlobClient(this.blobName);
    try {
      if (!this.#containerReady) {
        await ensureContainer(this.container);
        this.#containerReady = true;
      }
      await createIfMissing(blob);
    } catch (error) {
      throw this.#failure(error, 'prepare');
    }
    const leaseSeconds = this.options.leaseSeconds ?? 60;
    const lease = blob.getBlobLeaseClient();
    try {
      await lease.acquireLease(leaseSeconds);
    } catch (error) {
      if ((error as { statusCode?: unknown }).statusCode === 409) {
        throw createStateError(StateErrorCodes.runLocked, { problem: 'held', blobName: this.blobName, where: this.where, leaseSeconds }, { cause: error });
      }
      throw this.#failure(error, 'lock');
    }
    return this.#held(blob, lease, leaseSeconds);
  }

  async #held(blob: BlockBlobClient, lease: BlobLeaseClient, leaseSeconds: number): Promise<RunLock> {
    let found: RunCheckpoint | undefined;
    let unreadable = false;
    try {
      const text = (await blob.downloadToBuffer()).toString('utf8');
      found = parseCheckpoint(text);
      unreadable = found === undefined && text.trim() !== '' && text.trim() !== '{}';
    } catch (error) {
      await lease.releaseLease().catch(() => undefined);
      throw this.#failure(error, 'read');
    }
    let renewFailure: unknown;
    const renew = setInterval(
      () => {
        lease.renewLease().catch((error: unknown) => {
          renewFailure ??= error;
        });
      },
      this.options.renewEveryMs ?? Math.floor((leaseSeconds * 1000) / 3),
    );
    renew.unref();
    let released = false;
    return {
      found,
      unreadable,
      save: async (checkpoint) => {
        const text = JSON.stringify(checkpoint);
        const upload = () =>
          blob.upload(text, Buffer.byteLength(text), { conditions: { leaseId: lease.leaseId }, blobHTTPHeaders: { blobContentType: 'application/json' } });
        try {
          try {
            await upload();
          } catch (error) {
            // The lease lapsed (renewals failed through a storage outage) and nobody took it: take it
            // back under the same id, but only if the blob still holds this run's own progress.
            if (storageErrorCode(error) !== 'LeaseNotPresentWithBlobOperation' || !(await this.#reclaim(blob, lease, leaseSeconds, checkpoint))) throw error;
            await upload();
          }
        } catch (error) {
          const status = (error as { statusCode?: unknown }).statusCode;
          if (status === 412 || status === 409) {
            const renewCauseText = renewFailure === undefined ? undefined : describeCause(renewFailure);
            throw createStateError(StateErrorCodes.runLocked, { problem: 'lost', blobName: this.blobName, status, renewCauseText }, { cause: error });
          }
          throw this.#failure(error, 'write');
        }
      },
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(renew);
        await lease.releaseLease().catch(() => undefined);
      },
    };
  }

  async #reclaim(blob: BlockBlobClient, lease: BlobLeaseClient, leaseSeconds: number, next: RunCheckpoint): Promise<boolean> {
    try {
      await blob.getBlobLeaseClient(lease.leaseId).acquireLease(leaseSeconds);
      const current = parseCheckpoint((await blob.downloadToBuffer()).toString('utf8'));
      return (
        current !== undefined &&
        current.runId === next.runId &&
        current.status === 'running' &&
        (current.walk < next.walk || (current.walk === next.walk && current.pages <= next.pages))
      );
    } catch {
      return false;
    }
  }

  #failure(error: unknown, action: StateAction): SyncError {
    if (error instanceof SyncError) return error;
    const { blobName, where } = this;
    const causeText = describeCause(error);
    if (isIdentityError(error))
      return createStorageError(StorageErrorCodes.storageAuthFailed, { target: `run state ${blobName} in the ${where}`, causeText }, { cause: error });
    const hint = (error as { statusCode?: unknown }).statusCode === 403 ? 'forbidden' : isNetworkError(error) ? 'unreachable' : undefined;
    return createStateError(StateErrorCodes.runStateFailed, { problem: 'checkpoint', action, blobName, where, hint, causeText }, { cause: error });
  }
}

async function createIfMissing(blob: BlockBlobClient): Promise<void> {
  try {
    await blob.upload('{}', 2, { conditions: { ifNoneMatch: '*' }, blobHTTPHeaders: { blobContentType: 'application/json' } });
  } catch (error) {
    const status = (error as { statusCode?: unknown }).statusCode;
    if (status !== 409 && status !== 412) throw error; // it exists (and may be leased): fine
  }
}

export function parseCheckpoint(text: string): RunCheckpoint | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const c = value as Partial<Record<keyof RunCheckpoint, unknown>>;
  const whole = (n: unknown): boolean => typeof n === 'number' && Number.isInteger(n) && n >= 0;
  const link = (l: unknown): boolean => l === null || typeof l === 'string';
  const counts = [c.pages, c.users, c.messages, c.attempts, c.snapshots, c.upserts, c.removals, c.walk].every(whole);
  const pending =
    Array.isArray(c.pendingRemovals) &&
    c.pendingRemovals.every(
      (p: unknown) =>
        typeof (p as PendingRemoval | null)?.id === 'string' && typeof (p as PendingRemoval).reason === 'string' && whole((p as PendingRemoval).sequence),
    );
  const allowance =
    c.allowanceUsed === null ||
    (typeof c.allowanceUsed === 'object' &&
      whole((c.allowanceUsed as { value?: unknown }).value) &&
      typeof (c.allowanceUsed as { runId?: unknown }).runId === 'string');
  if (
    c.version !== checkpointVersion ||
    (c.status !== 'running' && c.status !== 'held' && c.status !== 'finished') ||
    typeof c.runId !== 'string' ||
    typeof c.runAt !== 'string' ||
    Number.isNaN(Date.parse(c.runAt)) ||
    (c.mode !== 'full' && c.mode !== 'delta') ||
    (c.kind !== 'snapshot' && c.kind !== 'changes') ||
    !(c.snapshotReason === null || ['full-mode', 'first-delta', 'requested', 'resync'].includes(c.snapshotReason as string)) ||
    ![c.nextLink, c.deltaNext, c.deltaLink].every(link) ||
    typeof c.walkDone !== 'boolean' ||
    !(c.knownUsers === null || whole(c.knownUsers)) ||
    !(Array.isArray(c.fields) && c.fields.every((f: unknown) => typeof f === 'string')) ||
    !(c.deltaFields === null || (Array.isArray(c.deltaFields) && c.deltaFields.every((f: unknown) => typeof f === 'string'))) ||
    !(c.heldRemovals === null || whole(c.heldRemovals)) ||
    !pending ||
    !allowance ||
    !counts
  ) {
    return undefined;
  }
  // Fields added after version 2 first shipped: a checkpoint without them had every user in scope.
  const optional = (v: unknown): v is string | null | undefined => v === undefined || v === null || typeof v === 'string';
  const added = value as Record<string, unknown>;
  if (![added['scope'], added['deltaScope'], added['members'], added['membersNext']].every(optional)) return undefined;
  const partitions = added['partitions'];
  const partitionsValid =
    partitions === undefined ||
    partitions === null ||
    (Array.isArray(partitions) &&
      partitions.every(
        (p: unknown) =>
          typeof (p as PartitionState | null)?.start === 'string' && link((p as PartitionState).next) && typeof (p as PartitionState).done === 'boolean',
      ));
  if (!partitionsValid) return undefined;
  return {
    ...(value as RunCheckpoint),
    scope: c.scope ?? null,
    deltaScope: c.deltaScope ?? null,
    members: c.members ?? null,
    membersNext: c.membersNext ?? null,
    partitions: (partitions as PartitionState[] | null | undefined) ?? null,
  } as RunCheckpoint;
}
