import { SyncError, SyncErrorCodes } from '../core';
import { isGraphResyncRequired } from '../graph';
import type { RunSends } from '../state';
import { isRangesUnusable, type RangesUnusable } from './range-check';

/**
 * When a walk starts again instead of failing, and what the operator is told. Graph refuses a
 * delta link that expired or was reset (delta-query-overview: 410 Gone, syncStateNotFound), on the
 * delta link or on any nextLink of the walk: the walk becomes a full snapshot (a resync; a
 * snapshot's own delta walk starts over). A page link that expired mid-walk, or whose token came
 * from a retried request (DirectoryPageTokenNotFoundException), starts the same walk again. A
 * partitioned read whose ranges cannot be trusted (range-check.ts) is read again in one
 * sequential walk. Each happens once per run; a second time is a failure.
 */

/** What a run has used up. */
export interface Restarts {
  resynced: boolean;
  restarted: boolean;
  /** The ranges were given up for one sequential walk: later walks of the run stay sequential. */
  sequential: boolean;
}

export type Restart =
  { readonly kind: 'resync'; readonly error: SyncError } | { readonly kind: 'restart' } | { readonly kind: 'sequential'; readonly error: RangesUnusable };

export function noRestarts(): Restarts {
  return { resynced: false, restarted: false, sequential: false };
}

/** The restart a walk's failure calls for (and records in `restarts`), or undefined: the run fails with it. */
export function restartOf(error: unknown, restarts: Restarts): Restart | undefined {
  if (isRangesUnusable(error) && !restarts.sequential) {
    restarts.sequential = true;
    return { kind: 'sequential', error };
  }
  if (!(error instanceof SyncError)) return undefined;
  // A reset during a snapshot's own delta walk (a 410 on a nextLink) is a resync too: the snapshot starts over.
  if (error.code === SyncErrorCodes.graphDeltaLinkExpired && !restarts.resynced) {
    restarts.resynced = true;
    return { kind: 'resync', error };
  }
  if (error.code === SyncErrorCodes.graphPageLinkExpired && !restarts.restarted) {
    restarts.restarted = true;
    return { kind: 'restart' };
  }
  return undefined;
}

/** Where a resync's snapshot starts: the `Location` Graph sent with a 410 Gone, if any (else the start URL). */
export function resyncStart(error: SyncError): string | undefined {
  return isGraphResyncRequired(error) ? error.location : undefined;
}

export function resyncNotice(error: SyncError, runId: string): string {
  return (
    `${error.message} Run ${runId} sends a full snapshot instead (messages of type user.snapshot, then snapshot.completed), ` +
    `and the next run carries on with changes from the new delta link.`
  );
}

/** `saved`: the link that expired was the checkpoint's (the walk had read no page in this invocation). */
export function restartNotice(runId: string, sends: RunSends, saved: boolean): string {
  return (
    `The ${saved ? 'saved ' : ''}page link of run ${runId} has expired; the run reads ` +
    `${sends === 'changes' ? 'the changes again from the saved delta link' : 'everything again from the first page'} under the same runId ` +
    `(what was sent already is sent again with the same message ids).`
  );
}

/** `sent`: pages of the ranges were handed on before the ranges were found untrustworthy (they are sent again, with the same message ids). */
export function sequentialNotice(error: RangesUnusable, runId: string, parallelReads: number, sent: boolean): string {
  return (
    `GRAPH_PARALLEL_READS=${parallelReads}: ${error.reason}, so the split into ranges cannot be trusted. ` +
    `Run ${runId} reads the users in one sequential walk instead, ` +
    (sent
      ? 'and sends again, with the same message ids, the users of the pages the ranges had sent. '
      : 'and no user of the ranges had been sent, so none is sent twice. ') +
    `Set GRAPH_PARALLEL_READS=1 to read in one walk from the start.`
  );
}
