import { toSyncError, type SyncError } from '../core';
import type { RunCheckpoint, RunLock } from '../state';
import type { QueueSink } from './sink';

/**
 * The run's checkpoint writes, in page order: a page's checkpoint is saved once the queue has
 * accepted every message up to the end of that page, never before. The first failed write stops
 * the run at its next page.
 */
export class CheckpointWriter {
  #saving: Promise<void> = Promise.resolve();
  #failure: SyncError | undefined;

  constructor(
    private readonly lock: RunLock,
    private readonly sink: QueueSink,
  ) {}

  /** Saves now (the run's start, a held or a finished run). */
  save(state: RunCheckpoint): Promise<void> {
    return this.lock.save(state);
  }

  /** Saves `state` after the messages handed to the sink so far are accepted (not at all if one failed). */
  afterAccepted(state: RunCheckpoint): void {
    const accepted = this.sink.barrier();
    this.#saving = this.#saving.then(async () => {
      if (this.#failure !== undefined || !(await accepted)) return;
      try {
        await this.lock.save(state);
      } catch (error) {
        this.#failure ??= toSyncError(error);
      }
    });
  }

  /** Throws the failure of an earlier write, if any (checked before each page). */
  check(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Every send accepted and every write done; throws the first failure of either. */
  async settle(): Promise<void> {
    await this.quiesce();
    this.check();
  }

  /** Every send and write finished (a send's failure thrown), before a walk starts again. */
  async quiesce(): Promise<void> {
    await this.sink.drain();
    await this.#saving;
  }

  /** A failed run: lets what is in flight finish, ignoring its failures (the run's own is thrown). */
  async abandon(): Promise<void> {
    await this.sink.drain().catch(() => undefined);
    await this.#saving.catch(() => undefined);
  }
}
