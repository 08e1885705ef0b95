import { createStateError, StateErrorCodes } from '../state';
import { MessageTypes, buildUserMessage } from '../messages';
import type { RunContext } from './context';
import { takeDeltaLink } from './link-first';
import { readMemberIds, readUsersById, type SyncRuntime } from './runtime';
import { Membership, outOfScope } from './scope';

/**
 * Group scope (SYNC_GROUP_ID in delta mode): the members now, read once per run and saved so a
 * resumed run filters its walk with the same ones; the last run's, for a changes walk; and after
 * the walk, who joined (sent whole, read by id) and who left (removals, reason outOfScope).
 */

/** The members now (the saved ones of a resumed run) and, for a changes walk, the last run's; saves the checkpoint. */
export async function readMembership(ctx: RunContext): Promise<void> {
  const { runtime, cursor, group, plan } = ctx;
  if (group === undefined) return;
  let now = cursor.membersNext === null ? undefined : await runtime.membership.load(cursor.membersNext);
  if (now === undefined) {
    const stale = ctx.lock.found?.membersNext;
    now = await readMemberIds(runtime, group.groupId, ctx.signal);
    cursor.membersNext = runtime.membership.nameFor(cursor.identity.run.runId, plan.attempts);
    await runtime.membership.save(cursor.membersNext, now);
    if (stale !== undefined && stale !== null && stale !== cursor.membersNext && stale !== plan.watermark.members) await runtime.membership.remove(stale);
  }
  group.members = new Membership(now, cursor.sends === 'changes' ? await previousMembers(runtime, plan.watermark.members) : undefined);
  // A group snapshot reads the members; the delta link for the next run is taken first, so no change is missed.
  if (cursor.sends === 'snapshot' && !cursor.walkDone && cursor.deltaNext === null) await takeDeltaLink(ctx);
  await ctx.writer.save(cursor.checkpoint({ nextLink: cursor.startLink ?? null }));
}

/** The members the saved delta link goes with; a changes walk cannot go on without them. */
export async function previousMembers(runtime: SyncRuntime, name: string | null): Promise<Set<string>> {
  const previous = name === null ? undefined : await runtime.membership.load(name);
  if (previous === undefined) {
    throw createStateError(StateErrorCodes.runStateFailed, { problem: 'membersMissing', name });
  }
  return previous;
}

/**
 * After a changes walk: members who left (user.removed, reason outOfScope, counted by the guard
 * with the other removals) and members who joined (user.upserted with the whole record, read by
 * id; those the walk sent already are not read again).
 */
export async function sendScopeChanges(ctx: RunContext): Promise<void> {
  const { cursor, group } = ctx;
  const members = group?.members;
  if (group === undefined || members === undefined || cursor.sends !== 'changes') return;
  let offset = 0;
  // A member deleted since is a removal with Graph's reason already.
  const leavers = members.leavers().filter((id) => !cursor.removals.has(id));
  for (const id of leavers) cursor.removals.add({ id, reason: outOfScope }, cursor.sequenceAfterWalk(++offset));
  group.left = leavers.length;
  group.joined = members.joiners(new Set()).length;
  let upserts = 0;
  for await (const page of readUsersById(ctx.runtime, members.joiners(group.sent), ctx.signal)) {
    for (const entry of page.entries) {
      if (entry.kind !== 'user') continue;
      cursor.removals.cancel(entry.user.id);
      upserts++;
      await ctx.sink.send(buildUserMessage(entry.user, MessageTypes.upserted, cursor.identity.run, cursor.sequenceAfterWalk(++offset)));
    }
  }
  cursor.progress = { ...cursor.progress, upserts: cursor.progress.upserts + upserts, removals: cursor.removals.count };
  await ctx.writer.settle();
}
