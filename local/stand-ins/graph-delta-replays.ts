/**
 * Replays in a users delta walk, as Graph documents them (concepts/delta-query-overview.md: "a
 * single entity may be contained multiple times in the response", and "assume the same item can
 * show up anywhere in the nextLink sequence"; the client must handle each as the latest state it
 * has seen). The stand-in's change log gives each user once, in its net state; with
 * `deltaReplays` on, a changes walk also carries, around the net entries:
 *   - a removal of a user the walk later gives as changed (an update after a removal of the same
 *     user: the user is there at the end, so no removal may be sent for it),
 *   - the earlier state of a user the walk later gives as removed (a removal of a user first seen
 *     on an earlier page: the removal is the latest state),
 *   - the first changed user again, at the end (the same user on two pages: the later copy wins),
 *   - the first removal again, at the end (a removal that must be counted once).
 * The first three are put at the start of the walk and the copies at its end, so that with more
 * than one page they fall on different pages.
 */

export type DeltaEntry = Record<string, unknown>;

/** What a replaying walk adds, for tests to check against: the ids of each kind of replay. */
export interface DeltaReplays {
  readonly removedThenChanged: string | undefined;
  readonly changedThenRemoved: string | undefined;
  readonly changedTwice: string | undefined;
  readonly removedTwice: string | undefined;
}

const isRemoval = (entry: DeltaEntry): boolean => entry['@removed'] !== undefined;

/**
 * The walk's entries with replays around them. `earlierState` gives a removed user's properties as
 * the holder of the delta link last saw them (undefined: the user was never seen).
 */
export function withReplays(
  entries: readonly DeltaEntry[],
  earlierState: (id: string) => DeltaEntry | undefined,
): { entries: DeltaEntry[]; replays: DeltaReplays } {
  const changed = entries.filter((e) => !isRemoval(e));
  const removed = entries.filter(isRemoval);
  const twice = changed[0];
  const removedThenChanged = changed[1];
  const firstRemoval = removed[0];
  const before = firstRemoval === undefined ? undefined : earlierState(String(firstRemoval['id']));
  const head: DeltaEntry[] = [];
  if (removedThenChanged !== undefined) head.push({ id: removedThenChanged['id'], '@removed': { reason: 'changed' } });
  if (before !== undefined) head.push(before);
  const tail: DeltaEntry[] = [];
  if (twice !== undefined) tail.push({ ...twice });
  if (firstRemoval !== undefined) tail.push({ ...firstRemoval });
  return {
    entries: [...head, ...entries, ...tail],
    replays: {
      removedThenChanged: removedThenChanged === undefined ? undefined : String(removedThenChanged['id']),
      changedThenRemoved: before === undefined ? undefined : String(before['id']),
      changedTwice: twice === undefined ? undefined : String(twice['id']),
      removedTwice: firstRemoval === undefined ? undefined : String(firstRemoval['id']),
    },
  };
}
