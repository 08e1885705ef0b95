import { buildRemovedMessage, buildSnapshotCompleted } from '../messages';
import type { RunCheckpoint } from '../state';
import type { RunContext } from './context';
import type { HeldRemovals } from './errors';
import { removalsHeldError } from './guard';

/**
 * The end of a run, once its walk is in the queue: the guard's verdict, then the removals (a
 * changes run) or snapshot.completed (a snapshot), and the watermark moved on: the new delta
 * link, fields, scope and membership, and the size of the last snapshot.
 */
export async function finishRun(ctx: RunContext): Promise<{ readonly deltaLinkAdvanced: boolean }> {
  const { cursor, plan, runtime } = ctx;
  const { watermark } = plan;
  const finished = cursor.sends === 'snapshot' ? await finishSnapshot(ctx) : await finishChanges(ctx);
  await ctx.writer.save(
    cursor.checkpoint({
      status: 'finished',
      walkDone: true,
      deltaNext: null,
      membersNext: null,
      pendingRemovals: [],
      ...finished,
    }),
  );
  if (watermark.members !== null && watermark.members !== finished.members) await runtime.membership.remove(watermark.members);
  return { deltaLinkAdvanced: plan.mode === 'delta' && cursor.deltaNext !== null && cursor.deltaNext !== watermark.deltaLink };
}

/**
 * The marker lets the consumer drop every user the snapshot left out: as many removals as the
 * snapshot is short of the last one, which the guard counts too (an expired delta link must not
 * become a way round it).
 */
async function finishSnapshot(ctx: RunContext): Promise<Partial<RunCheckpoint>> {
  const { cursor, plan, settings } = ctx;
  const { watermark } = plan;
  const { snapshots } = cursor.progress;
  const implied = watermark.knownUsers === null ? 0 : Math.max(0, watermark.knownUsers - snapshots);
  await guard(ctx, implied, { kind: 'snapshotShort', knownUsers: watermark.knownUsers, snapshots });
  await ctx.sink.send(buildSnapshotCompleted(snapshots, cursor.snapshotReason ?? 'requested', cursor.identity.run, cursor.sequenceAfterWalk(1)));
  await ctx.writer.settle();
  const delta = plan.mode === 'delta';
  return {
    deltaLink: delta ? cursor.deltaNext : watermark.deltaLink,
    deltaFields: delta ? settings.userFields : watermark.deltaFields,
    deltaScope: delta ? cursor.identity.scope : watermark.deltaScope,
    members: delta ? cursor.membersNext : watermark.members,
    knownUsers: snapshots,
  };
}

async function finishChanges(ctx: RunContext): Promise<Partial<RunCheckpoint>> {
  const { cursor } = ctx;
  await guard(ctx, cursor.removals.count, { kind: 'removals' });
  for (const removal of cursor.removals.list()) {
    await ctx.sink.send(buildRemovedMessage(removal, cursor.identity.run, removal.sequence));
    ctx.invocation.removalsSent++;
  }
  await ctx.writer.settle();
  return { deltaLink: cursor.deltaNext, deltaFields: ctx.settings.userFields, deltaScope: cursor.identity.scope, members: cursor.membersNext };
}

/** The guard's verdict on `removed`: a held run saves `held` and throws REMOVALS_HELD; an allowed one is told and recorded. */
async function guard(ctx: RunContext, removed: number, removing: HeldRemovals): Promise<void> {
  const { cursor } = ctx;
  const verdict = ctx.guard.verdict(removed);
  if (verdict.kind === 'pass') return;
  if (verdict.kind === 'held') {
    await ctx.writer.save(cursor.checkpoint({ status: 'held', walkDone: false, deltaNext: null, pendingRemovals: [], heldRemovals: removed }));
    throw removalsHeldError(ctx.guard, removed, removing, { runId: cursor.identity.run.runId, sends: cursor.sends, ...cursor.progress });
  }
  ctx.notice(verdict.notice);
  cursor.allowanceUsed = verdict.allowanceUsed;
}
