import { CoreErrorCodes, createCoreError, toSyncError } from '../core';
import { partitionStarts, type FetchedUsersPage, type PartitionState } from '../graph';
import type { SyncMode, SyncSettings } from '../settings';
import { readPagesFrom, type SyncRuntime } from './runtime';

/**
 * A walk of Graph pages, knowing nothing of messages: each page is handed to `onPage`, and the
 * next page is fetched while that one is being handled. One sequential walk from a URL, or
 * several ranges side by side (GRAPH_PARALLEL_READS, graph/partitions.ts).
 */

/** What a walk hands each page to; `partition` is the range's index in a partitioned walk. */
export type PageHandler = (page: FetchedUsersPage, partition: number | undefined) => Promise<void>;

export interface WalkOptions {
  readonly onPage: PageHandler;
  /** Called before each page is handled; throws to stop the walk (a failed checkpoint write). */
  readonly check: () => void;
  readonly signal: AbortSignal | undefined;
}

/** One walk of pages from `url` to its last page. */
export async function walkPages(runtime: SyncRuntime, url: string, partition: number | undefined, options: WalkOptions): Promise<void> {
  const { signal } = options;
  const pages = readPagesFrom(runtime, url, signal)[Symbol.asyncIterator]();
  let next = pages.next();
  for (;;) {
    const result = await next;
    if (result.done === true) return;
    options.check();
    if (signal?.aborted === true) {
      await pages.return(undefined);
      throw createCoreError(CoreErrorCodes.runInterrupted, { problem: 'askedToStop' });
    }
    next = pages.next();
    next.catch(() => undefined); // observed above on the next turn; no unhandled rejection if handling fails first
    await options.onPage(result.value, partition);
  }
}

/**
 * The ranges not done yet, `parallel` at a time. The first failure stops the others (their
 * requests are aborted) and is what the walk fails with; the caller's checkpoint keeps where
 * each range stands, so a resumed run carries each on.
 */
export async function walkPartitions(runtime: SyncRuntime, states: readonly PartitionState[], parallel: number, options: WalkOptions): Promise<void> {
  const stop = new AbortController();
  const signal = options.signal === undefined ? stop.signal : AbortSignal.any([options.signal, stop.signal]);
  const pending = states.flatMap((state, index) => (state.done ? [] : [index]));
  let failure: Error | undefined;
  const worker = async (): Promise<void> => {
    for (let index = pending.shift(); index !== undefined && failure === undefined; index = pending.shift()) {
      const state = states[index] as PartitionState;
      await walkPages(runtime, state.next ?? state.start, index, { ...options, signal });
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(parallel, pending.length) }, () =>
      worker().catch((error: unknown) => {
        failure ??= error instanceof Error ? error : toSyncError(error);
        stop.abort();
      }),
    ),
  );
  if (failure !== undefined) throw failure;
}

/** Where a walk stands before it reads: what the run's checkpoint (or the dry run's plan) says. */
export interface WalkStart {
  /** The ranges of a partitioned walk already begun, or null. */
  readonly partitions: PartitionState[] | null;
  /** A saved page link or the delta link to start from; undefined: the walk's start URL. */
  readonly link: string | undefined;
  /** Pages this walk has read so far. */
  readonly pagesRead: number;
}

/**
 * The ranges a walk reads side by side: those it began with, or new ones when a full read with
 * GRAPH_PARALLEL_READS above 1 (no group scope) starts from its first page; null: one
 * sequential walk. The run and the dry run both ask here, so they split the same way.
 */
export function walkRanges(settings: SyncSettings, mode: SyncMode, start: WalkStart): PartitionState[] | null {
  if (start.partitions !== null) return start.partitions;
  const partitionable = mode === 'full' && settings.scope.groupId === undefined && settings.parallelReads > 1;
  if (!partitionable || start.link !== undefined || start.pagesRead > 0) return null;
  return partitionStarts(settings.graphBaseUrl, settings.userFields, { filter: settings.scope.filter });
}

/** One walk: the ranges side by side (`ranges`), or one sequential walk from `url`. */
export async function walkRangesOrPages(runtime: SyncRuntime, ranges: readonly PartitionState[] | null, url: string, options: WalkOptions): Promise<void> {
  if (ranges !== null) return walkPartitions(runtime, ranges, runtime.settings.parallelReads, options);
  await walkPages(runtime, url, undefined, options);
}
