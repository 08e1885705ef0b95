import { createGraphError, GraphErrorCodes } from '../graph';
import type { SyncMode, SyncSettings } from '../settings';
import type { RunContext } from './context';
import { latestDeltaLink } from './runtime';
import type { WalkStart } from './walker';

/**
 * A delta snapshot "from now". Graph documents "sync from now" for directory objects
 * (delta-query-overview.md): `$deltatoken=latest` returns a delta link and no data. A snapshot
 * that takes that link before it reads can read the users any way it likes, and the next run,
 * starting from the link, replays whatever changed while it read: a user changed after its page
 * was read comes again as user.upserted (later runAt), one deleted as user.removed, one added as
 * user.upserted, each once more at most, which a consumer following docs/consumer.md applies
 * idempotently. So a delta snapshot takes its link first:
 *
 * - under SYNC_GROUP_ID, then reads the group's members (only the group, not the tenant);
 * - with GRAPH_PARALLEL_READS above 1, then reads GET /users in ranges side by side, as full
 *   mode does (walker.ts), instead of one walk of /users/delta at 200 users a page.
 *
 * The link is the checkpoint's `deltaNext` from then on: a resumed snapshot keeps it, and it
 * becomes the watermark once snapshot.completed is accepted. With GRAPH_PARALLEL_READS=1 and no
 * group, a snapshot walks /users/delta and keeps the link its last page gives.
 */

/** Whether a delta snapshot at the start of its walk takes its delta link first. */
export function takesLinkFirst(settings: SyncSettings, mode: SyncMode, start: Omit<WalkStart, 'linkTaken'> & { readonly deltaNext: string | null }): boolean {
  if (mode !== 'delta' || start.sends !== 'snapshot' || start.deltaNext !== null) return false;
  if (settings.scope.groupId !== undefined) return true;
  return settings.parallelReads > 1 && start.partitions === null && start.link === undefined && start.pagesRead === 0;
}

/** Whether a resync's snapshot (a new walk, no link held) takes its delta link first. */
export function resyncTakesLinkFirst(settings: SyncSettings, mode: SyncMode): boolean {
  return takesLinkFirst(settings, mode, { partitions: null, link: undefined, pagesRead: 0, sends: 'snapshot', deltaNext: null });
}

/** The delta link for now (same $select, no filter: delta mode takes none), as the cursor's deltaNext. */
export async function takeDeltaLink(ctx: RunContext): Promise<void> {
  ctx.cursor.deltaNext = (await latestDeltaLink(ctx.runtime, ctx.signal)) ?? null;
  if (ctx.cursor.deltaNext === null) throw createGraphError(GraphErrorCodes.graphResponseInvalid, { problem: 'noLatestDeltaLink' });
}

/** Before a walk without a group: takes the link if this snapshot reads from now, and saves it in the checkpoint before any page. */
export async function startSnapshotFromNow(ctx: RunContext): Promise<void> {
  const { cursor, settings, plan } = ctx;
  if (ctx.group !== undefined || cursor.walkDone) return;
  const start = { partitions: cursor.partitions, link: cursor.startLink, pagesRead: cursor.progress.pages, sends: cursor.sends, deltaNext: cursor.deltaNext };
  if (!takesLinkFirst(settings, plan.mode, start)) return;
  await takeDeltaLink(ctx);
  await ctx.writer.save(cursor.checkpoint({ nextLink: null }));
}
