import type { SyncError } from '../core';
import type { FetchedUsersPage } from '../graph';
import { MessageTypes, buildUserMessage } from '../messages';
import type { RunContext } from './context';
import { startGroupSnapshot } from './group-scope';
import { countDecisions, decidePage, holdRemovals } from './page-step';
import { restartNotice, resyncNotice, restartOf, resyncStart, type Restarts } from './restarts';
import { walkStartUrl } from './runtime';
import { walkRanges, walkRangesOrPages, type WalkOptions } from './walker';

/**
 * The run's walk: its pages become messages, and each page's checkpoint is saved once the queue
 * accepted them. A refused delta link turns it into a resync and an expired page link starts it
 * again, each once per run (restarts.ts).
 */
export async function walkWithRestarts(ctx: RunContext): Promise<void> {
  const restarts: Restarts = { resynced: false, restarted: false };
  for (;;) {
    try {
      await walk(ctx);
      return;
    } catch (error) {
      const restart = restartOf(error, restarts);
      if (restart === undefined) throw error;
      // A drained queue first: the new walk re-sends, and the checkpoint must not advance from the old pages.
      await ctx.writer.quiesce();
      if (restart.kind === 'resync') await resync(ctx, restart.error);
      else restartWalk(ctx);
    }
  }
}

async function resync(ctx: RunContext, error: SyncError): Promise<void> {
  const { cursor, group } = ctx;
  ctx.notice(resyncNotice(error, cursor.identity.run.runId));
  // Under a group the snapshot reads the members, and the new delta link is "latest".
  const members = group?.members;
  cursor.restart(members === undefined ? resyncStart(error) : undefined, { reason: 'resync' });
  if (group !== undefined && members !== undefined) {
    group.members = members.asSnapshot();
    cursor.deltaNext = null;
    await startGroupSnapshot(ctx);
  }
}

function restartWalk(ctx: RunContext): void {
  const { cursor, plan } = ctx;
  ctx.notice(restartNotice(cursor.identity.run.runId, cursor.sends, cursor.startLink !== undefined && ctx.invocation.pages === 0));
  cursor.restart(cursor.sends === 'changes' ? (plan.watermark.deltaLink ?? undefined) : undefined);
}

/** One walk: the ranges of a partitioned read (full mode, GRAPH_PARALLEL_READS above 1), or one sequential walk. */
async function walk(ctx: RunContext): Promise<void> {
  const { cursor, settings, plan } = ctx;
  const options: WalkOptions = { onPage: (page, partition) => sendPage(ctx, page, partition), check: () => ctx.writer.check(), signal: ctx.signal };
  cursor.partitions = walkRanges(settings, plan.mode, { partitions: cursor.partitions, link: cursor.startLink, pagesRead: cursor.progress.pages });
  await walkRangesOrPages(ctx.runtime, cursor.partitions, cursor.startLink ?? walkStartUrl(settings, plan.mode, cursor.sends), options);
}

/** A page: its users sent, its removals held, and its checkpoint saved once the queue accepted them. */
async function sendPage(ctx: RunContext, page: FetchedUsersPage, partition: number | undefined): Promise<void> {
  const { cursor, group, invocation } = ctx;
  invocation.tokenFromCache ??= ctx.runtime.graphCredential.lastFromCache;
  const decisions = decidePage(page.entries, { sends: cursor.sends, walk: cursor.walk, members: group?.members }, cursor.reserve(page.entries.length));
  holdRemovals(decisions, cursor.removals);
  for (const decision of decisions) {
    if (decision.action === 'removal') continue;
    if (decision.action === 'upsert' && group !== undefined) group.sent.add(decision.user.id.toLowerCase());
    const type = decision.action === 'upsert' ? MessageTypes.upserted : MessageTypes.snapshot;
    await ctx.sink.send(buildUserMessage(decision.user, type, cursor.identity.run, decision.sequence));
  }
  invocation.pages++;
  invocation.entries += page.entries.length;
  ctx.writer.afterAccepted(cursor.recordPage(page, countDecisions(decisions), partition));
  ctx.onProgress?.({ pages: invocation.pages, entries: invocation.entries, messages: ctx.sink.sent });
}
