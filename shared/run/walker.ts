import { CoreErrorCodes, createCoreError, toSyncError } from '../core';
import { createGraphError, GraphErrorCodes, partitionStarts, scopeCountUrl, type FetchedUsersPage, type PartitionState } from '../graph';
import type { SyncMode, SyncSettings } from '../settings';
import type { RunSends } from '../state';
import { RangeCheck, refusedRange } from './range-check';
import { readPagesFrom, type SyncRuntime } from './runtime';

/**
 * A walk of Graph pages, knowing nothing of messages: each page is handed to `onPage`, and the
 * next page is fetched while that one is being handled. One sequential walk from a URL, or
 * several ranges side by side (GRAPH_PARALLEL_READS, graph/partitions.ts), checked as they are
 * read (range-check.ts): a walk whose ranges cannot be trusted throws RangesUnusable.
 */

/** What a walk hands each page to; `partition` is the range's index in a partitioned walk. */
export type PageHandler = (page: FetchedUsersPage, partition: number | undefined) => Promise<void>;

export interface WalkOptions {
  readonly onPage: PageHandler;
  /** Called before each page is handled; throws to stop the walk (a failed checkpoint write). */
  readonly check: () => void;
  readonly signal: AbortSignal | undefined;
}

/** One walk of pages from `from` (a URL, or a first page already read) to its last page. */
export async function walkPages(runtime: SyncRuntime, from: string | FetchedUsersPage, partition: number | undefined, options: WalkOptions): Promise<void> {
  const { signal } = options;
  const first = typeof from === 'string' ? undefined : from;
  const url = typeof from === 'string' ? from : from.nextLink;
  const pages = url === undefined ? noPages() : readPagesFrom(runtime, url, signal)[Symbol.asyncIterator]();
  let next: Promise<IteratorResult<FetchedUsersPage, void>> = first === undefined ? pages.next() : Promise.resolve({ done: false, value: first });
  for (;;) {
    const result = await next;
    if (result.done === true) return;
    options.check();
    if (signal?.aborted === true) {
      await pages.return(undefined);
      throw stopped();
    }
    next = pages.next();
    next.catch(() => undefined); // observed above on the next turn; no unhandled rejection if handling fails first
    await options.onPage(result.value, partition);
  }
}

/**
 * The ranges not done yet, `parallel` at a time. A new walk (no range begun) first reads the
 * first page of every range and checks them all (range-check.ts) before it hands any on; every
 * later page is checked before it is handed on. The first failure stops the others (their
 * requests are aborted) and is what the walk fails with; the caller's checkpoint keeps where
 * each range stands, so a resumed run carries each on.
 */
export async function walkPartitions(runtime: SyncRuntime, states: readonly PartitionState[], parallel: number, options: WalkOptions): Promise<void> {
  const fresh = states.every((state) => !state.done && state.next === null);
  const scope = fresh ? await scopeCount(runtime, options.signal) : undefined;
  const check = new RangeCheck(scope);
  const first = fresh ? await inParallel(states.length, parallel, options.signal, (index, signal) => firstPage(runtime, states, index, signal)) : [];
  if (fresh) check.firstPages(first);
  const onPage: PageHandler = (page, partition) => {
    // A first page was checked with the others; later ones are checked here, before they are handed on.
    if (partition !== undefined && page !== first[partition]) check.page(page, partition);
    return options.onPage(page, partition);
  };
  const pending = states.flatMap((state, index) => (state.done ? [] : [index]));
  await inParallel(pending.length, parallel, options.signal, async (position, signal) => {
    const index = pending[position] as number;
    const state = states[index] as PartitionState;
    await walkPages(runtime, first[index] ?? state.next ?? state.start, index, { ...options, onPage, signal }).catch((error: unknown) => {
      throw refusedRange(error, index) ?? error;
    });
  });
}

/** The first page of range `index`, read and held (not handed on); a refused range filter is RangesUnusable. */
async function firstPage(runtime: SyncRuntime, states: readonly PartitionState[], index: number, signal: AbortSignal): Promise<FetchedUsersPage> {
  try {
    for await (const page of readPagesFrom(runtime, (states[index] as PartitionState).start, signal)) return page;
  } catch (error) {
    throw refusedRange(error, index) ?? error;
  }
  throw createGraphError(GraphErrorCodes.graphResponseInvalid, { problem: 'noValue' });
}

/** The users in scope (USER_FILTER's, or the tenant's), as Graph counts them: `@odata.count`, or undefined when Graph gave none. */
async function scopeCount(runtime: SyncRuntime, signal: AbortSignal | undefined): Promise<number | undefined> {
  const { settings } = runtime;
  for await (const page of readPagesFrom(runtime, scopeCountUrl(settings.graphBaseUrl, { filter: settings.scope.filter }), signal, ['id'])) return page.count;
  return undefined;
}

/**
 * `work(0)` … `work(count - 1)`, `parallel` at a time, their results in order. The first failure
 * aborts the others (through the signal each gets) and is thrown once all have stopped.
 */
async function inParallel<T>(
  count: number,
  parallel: number,
  outer: AbortSignal | undefined,
  work: (index: number, signal: AbortSignal) => Promise<T>,
): Promise<T[]> {
  const stop = new AbortController();
  const signal = outer === undefined ? stop.signal : AbortSignal.any([outer, stop.signal]);
  const results: T[] = [];
  let taken = 0;
  let failure: Error | undefined;
  const worker = async (): Promise<void> => {
    for (let index = taken++; index < count && failure === undefined; index = taken++) results[index] = await work(index, signal);
  };
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, () =>
      worker().catch((error: unknown) => {
        failure ??= error instanceof Error ? error : toSyncError(error);
        stop.abort();
      }),
    ),
  );
  if (failure !== undefined) throw failure;
  if (outer?.aborted === true) throw stopped();
  return results;
}

/** Where a walk stands before it reads: what the run's checkpoint (or the dry run's plan) says. */
export interface WalkStart {
  /** The ranges of a partitioned walk already begun, or null. */
  readonly partitions: PartitionState[] | null;
  /** A saved page link or the delta link to start from; undefined: the walk's start URL. */
  readonly link: string | undefined;
  /** Pages this walk has read so far. */
  readonly pagesRead: number;
  /** What the walk sends, and whether its delta link was taken before it ($deltatoken=latest: link-first.ts). */
  readonly sends: RunSends;
  readonly linkTaken: boolean;
}

/**
 * Whether a walk reads GET /users: full mode, and a delta snapshot whose delta link was taken
 * first (link-first.ts); the others read /users/delta (or, under SYNC_GROUP_ID, the group's members).
 */
export function readsUsers(mode: SyncMode, start: Pick<WalkStart, 'sends' | 'linkTaken'>): boolean {
  return mode === 'full' || (start.sends === 'snapshot' && start.linkTaken);
}

/**
 * The ranges a walk reads side by side: those it began with, or new ones when a read of /users
 * (readsUsers) with GRAPH_PARALLEL_READS above 1 (no group scope) starts from its first page;
 * null: one sequential walk. The run and the dry run both ask here, so they split the same way.
 */
export function walkRanges(settings: SyncSettings, mode: SyncMode, start: WalkStart): PartitionState[] | null {
  if (start.partitions !== null) return start.partitions;
  const partitionable = readsUsers(mode, start) && settings.scope.groupId === undefined && settings.parallelReads > 1;
  if (!partitionable || start.link !== undefined || start.pagesRead > 0) return null;
  return partitionStarts(settings.graphBaseUrl, settings.userFields, { filter: settings.scope.filter });
}

/** One walk: the ranges side by side (`ranges`), or one sequential walk from `url`. */
export async function walkRangesOrPages(runtime: SyncRuntime, ranges: readonly PartitionState[] | null, url: string, options: WalkOptions): Promise<void> {
  if (ranges !== null) return walkPartitions(runtime, ranges, runtime.settings.parallelReads, options);
  await walkPages(runtime, url, undefined, options);
}

async function* noPages(): AsyncGenerator<FetchedUsersPage, void, undefined> {
  // A range whose first page was its last.
}

function stopped(): Error {
  return createCoreError(CoreErrorCodes.runInterrupted, { problem: 'askedToStop' });
}
