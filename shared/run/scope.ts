import type { RunSends } from '../state';
import type { DirectoryEntry } from '../graph';

/**
 * Which entries of a walk a run sends, under SYNC_GROUP_ID in delta mode: /users/delta lists
 * every user's changes and never a membership change, so the run reads the group's member ids
 * (cheap: `$select=id`) and compares them with those saved by the last run.
 *
 * - a changed user who is a member now: user.upserted; one who is not: nothing;
 * - a removed user (soft or hard deleted) who was a member: user.removed with Graph's reason;
 * - a member who was not one before (joined): user.upserted with the whole record, read by id;
 * - a user who was a member and is not now, and was not removed (left): user.removed, reason outOfScope.
 *
 * Pure, so the run and the dry run share it.
 */

export type EntryAction = 'snapshot' | 'upsert' | 'removal' | 'skip';

/** The reason of a user.removed for a user who left the scope (SYNC_GROUP_ID). */
export const outOfScope = 'outOfScope';

export class Membership {
  constructor(
    /** The group's member ids now (read at the start of the run). */
    readonly now: ReadonlySet<string>,
    /** The member ids saved by the last finished run; undefined for a snapshot (nobody was sent before). */
    readonly previous: ReadonlySet<string> | undefined,
  ) {}

  /** The same members for a snapshot (a resync): nobody was sent before, so nobody left. */
  asSnapshot(): Membership {
    return new Membership(this.now, undefined);
  }

  /** Members now. */
  includes(id: string): boolean {
    return this.now.has(id.toLowerCase());
  }

  /** Members at the last run: their removal concerns the consumer. */
  included(id: string): boolean {
    return this.previous === undefined || this.previous.has(id.toLowerCase());
  }

  /** Members at the last run who are members no more, sorted (a resumed run finds them in the same order). */
  leavers(): string[] {
    if (this.previous === undefined) return [];
    return [...this.previous].filter((id) => !this.now.has(id)).sort();
  }

  /** Members now who were not at the last run, less those `sent` already, sorted. */
  joiners(sent: ReadonlySet<string>): string[] {
    return [...this.now].filter((id) => !(this.previous?.has(id) ?? false) && !sent.has(id)).sort();
  }
}

/** What a run does with one entry of its walk (`members`: the group scope of a delta run, if any). */
export function entryAction(entry: DirectoryEntry, sends: RunSends, members: Membership | undefined): EntryAction {
  if (entry.kind === 'user') {
    if (members !== undefined && !members.includes(entry.user.id)) return 'skip';
    return sends === 'changes' ? 'upsert' : 'snapshot';
  }
  // In a snapshot a removal says nothing new: snapshot.completed lets the consumer drop whoever was not sent.
  if (sends !== 'changes') return 'skip';
  return members === undefined || members.included(entry.removed.id) ? 'removal' : 'skip';
}
