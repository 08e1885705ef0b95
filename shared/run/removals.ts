import type { PendingRemoval } from '../state';
import type { RemovedUser } from '../graph';

/**
 * The removals of a delta walk, held until the walk ends so that the mass-deletion guard can
 * count them before any is sent. Keyed by user: a user removed and then seen again later in the
 * same walk (restored) is no longer a removal. At most `cap` are kept (the guard's threshold or
 * the allowance, plus one: enough to send them all when allowed, and to know the run is held
 * when not); beyond that they are only counted, so memory and the checkpoint stay small however
 * many users a mistake removes.
 */
export class PendingRemovals {
  readonly #byId = new Map<string, PendingRemoval>();
  #uncounted: number;

  constructor(
    readonly cap: number,
    saved: readonly PendingRemoval[] = [],
    savedCount: number = saved.length,
  ) {
    for (const removal of saved) this.#byId.set(removal.id, removal);
    this.#uncounted = Math.max(0, savedCount - this.#byId.size);
  }

  add(removed: RemovedUser, sequence: number): void {
    if (this.#byId.has(removed.id) || this.#byId.size < this.cap) this.#byId.set(removed.id, { id: removed.id, reason: removed.reason, sequence });
    else this.#uncounted++;
  }

  /** Whether the user is a removal of this walk already (among those kept). */
  has(id: string): boolean {
    return this.#byId.has(id);
  }

  /** The user came back later in the walk: not a removal any more. */
  cancel(id: string): void {
    this.#byId.delete(id);
  }

  /** Distinct removals read (those beyond the cap counted as they came). */
  get count(): number {
    return this.#byId.size + this.#uncounted;
  }

  /** In the order the walk read them. */
  list(): PendingRemoval[] {
    return [...this.#byId.values()].sort((a, b) => a.sequence - b.sequence);
  }
}
