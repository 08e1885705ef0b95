import type { SyncError } from '../core';
import type { FetchedUsersPage } from '../graph';
import { MessageTypes, buildUserMessage } from '../messages';
import type { RunContext } from './context';
import { resyncTakesLinkFirst, takeDeltaLink } from './link-first';
import { countDecisions, decidePage, holdRemovals } from './page-step';
import type { RangesUnusable } from './range-check';
import { noRestarts, restartNotice, resyncNotice, restartOf, resyncStart, sequentialNotice, type Restarts } from './restarts';
import { walkStartUrl } from './runtime';
import { walkRanges, walkRangesOrPages, type WalkOptions } from './walker';

/**
 * The run's walk: its pages become messages, and each page's checkpoint is saved once the queue
 * accepted them. A refused delta link turns it into a resync, an expired page link starts it
 * again, and ranges that cannot be trusted give way to one sequential walk, each once per run
 * (restarts.ts).
 */
export async function walkWithRestarts(ctx: RunContext): Promise<void> {
  const restarts = noRestarts();
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
      else if (restart.kind === 'sequential') await sequential(ctx, restart.error);
      else restartWalk(ctx, restarts);
    }
  }
}

async function resync(ctx: RunContext, error: SyncError): Promise<void> {
  const { cursor, group, settings, plan } = ctx;
  ctx.notice(resyncNotice(error, cursor.identity.run.runId));
  cursor.restart(undefined, { reason: 'resync' });
  // Under a group, or with parallel reads, the snapshot reads from now: a new link first ("latest"), then the read.
  const fromNow = resyncTakesLinkFirst(settings, plan.mode);
  if (group?.members !== undefined) group.members = group.members.asSnapshot();
  if (!fromNow) {
    // Else the walk of /users/delta again, from the Location Graph gave with a 410, if any.
    cursor.startLink = resyncStart(error);
    return;
  }
  cursor.deltaNext = null;
  await takeDeltaLink(ctx);
}

function restartWalk(ctx: RunContext, restarts: Restarts): void {
  const { cursor, plan } = ctx;
  ctx.notice(restartNotice(cursor.identity.run.runId, cursor.sends, cursor.startLink !== undefined && ctx.invocation.pages === 0));
  if (cursor.sends === 'changes') cursor.restart(plan.watermark.deltaLink ?? undefined);
  else cursor.restart(restarts.sequential ? startUrl(ctx) : undefined);
}

/** The ranges cannot be trusted: the same read in one walk, from its first page; saved, so a resumed run walks on in one walk too. */
async function sequential(ctx: RunContext, error: RangesUnusable): Promise<void> {
  const { cursor, settings } = ctx;
  ctx.notice(sequentialNotice(error, cursor.identity.run.runId, settings.parallelReads, cursor.progress.pages > 0));
  cursor.restart(startUrl(ctx));
  await ctx.writer.save(cursor.checkpoint({ nextLink: cursor.startLink ?? null }));
}

/** Where this run's walk starts (walkStartUrl), for what it sends and the delta link it holds. */
function startUrl(ctx: RunContext): string {
  const { cursor, settings, plan } = ctx;
  return walkStartUrl(settings, plan.mode, cursor.sends, cursor.deltaNext !== null);
}

/** One walk: the ranges of a partitioned read (GRAPH_PARALLEL_READS above 1, a read of /users), or one sequential walk. */
async function walk(ctx: RunContext): Promise<void> {
  const { cursor, settings, plan } = ctx;
  const options: WalkOptions = { onPage: (page, partition) => sendPage(ctx, page, partition), check: () => ctx.writer.check(), signal: ctx.signal };
  cursor.partitions = walkRanges(settings, plan.mode, {
    partitions: cursor.partitions,
    link: cursor.startLink,
    pagesRead: cursor.progress.pages,
    sends: cursor.sends,
    linkTaken: cursor.deltaNext !== null,
  });
  await walkRangesOrPages(ctx.runtime, cursor.partitions, cursor.startLink ?? startUrl(ctx), options);
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
