import type { DirectoryEntry, DirectoryUser, RemovedUser } from '../graph';
import { sequenceOf } from '../messages';
import type { RunSends } from '../state';
import type { PageCounts } from './cursor';
import type { PendingRemovals } from './removals';
import { entryAction, type Membership } from './scope';

/**
 * What a page of a walk becomes: for each entry, a user to send (a snapshot or an upsert), a
 * removal to hold until the walk ends, or nothing. Pure: the run sends what it decides, the dry
 * run counts it, so both decide alike.
 */

export type EntryDecision =
  | { readonly action: 'snapshot' | 'upsert'; readonly user: DirectoryUser; readonly sequence: number }
  | { readonly action: 'removal'; readonly removed: RemovedUser; readonly sequence: number };

export interface PageStep {
  readonly sends: RunSends;
  readonly walk: number;
  /** The group scope of a changes walk (SYNC_GROUP_ID in delta mode); a group snapshot reads the members, so nothing is left out. */
  readonly members: Membership | undefined;
}

/** The decisions of a page whose first entry has position `first` in the walk, in the page's order. */
export function decidePage(entries: readonly DirectoryEntry[], step: PageStep, first: number): EntryDecision[] {
  const members = step.sends === 'changes' ? step.members : undefined;
  const decisions: EntryDecision[] = [];
  entries.forEach((entry, index) => {
    const sequence = sequenceOf(step.walk, first + index);
    const action = entryAction(entry, step.sends, members);
    if (entry.kind === 'user' && (action === 'upsert' || action === 'snapshot')) decisions.push({ action, user: entry.user, sequence });
    else if (entry.kind === 'removed' && action === 'removal') decisions.push({ action, removed: entry.removed, sequence });
  });
  return decisions;
}

/** Holds the page's removals, and drops those of users seen again later (restored), in the page's order. */
export function holdRemovals(decisions: readonly EntryDecision[], removals: PendingRemovals): void {
  for (const decision of decisions) {
    if (decision.action === 'removal') removals.add(decision.removed, decision.sequence);
    else if (decision.action === 'upsert') removals.cancel(decision.user.id);
  }
}

/** The users a page sends, by message type. */
export function countDecisions(decisions: readonly EntryDecision[]): PageCounts {
  let snapshots = 0;
  let upserts = 0;
  for (const decision of decisions) {
    if (decision.action === 'snapshot') snapshots++;
    else if (decision.action === 'upsert') upserts++;
  }
  return { snapshots, upserts };
}
