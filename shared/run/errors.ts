import {
  CoreErrorCodes,
  count,
  createCoreError,
  type ErrorMessages,
  type MessageParams,
  SyncError,
  SyncErrorCodes,
  type SyncErrorOptions,
  messageOf,
} from '../core';
import type { RunSends } from '../state';

/**
 * The run family of errors (see core/sync-error.ts for how families work): the mass-deletion
 * guard's REMOVALS_HELD (the typed RemovalsHeldError), and the words of a run that stopped: what
 * the attempt did and where the next one resumes, added to the failure that stopped it
 * (`withAttemptProgress`) or said by RUN_INTERRUPTED (`stoppedOnRequest`; a core code, since
 * graph/ meets a stop too).
 */

export const RunErrorCodes = {
  removalsHeld: SyncErrorCodes.removalsHeld,
} as const;

export type RunErrorCode = (typeof RunErrorCodes)[keyof typeof RunErrorCodes];

/** What a held run had sent, for its error. */
export interface HeldRun {
  readonly runId: string;
  readonly sends: RunSends;
  readonly snapshots: number;
  readonly upserts: number;
}

/** What the held removals are: a changes run's removals, or the users a snapshot is short of the last one (the consumer would drop them). */
export type HeldRemovals = { readonly kind: 'removals' } | { readonly kind: 'snapshotShort'; readonly knownUsers: number | null; readonly snapshots: number };

export interface RemovalsHeldParams {
  readonly run: HeldRun;
  /** How many removals were held back, and what they are. */
  readonly held: number;
  readonly removing: HeldRemovals;
  readonly threshold: number;
  /** The threshold in words (RemovalGuard.describe()). */
  readonly thresholdWords: string;
  /** The allowance in force (undefined: none). */
  readonly allowance: number | undefined;
}

function removalsHeld({ run, held, removing, thresholdWords, allowance }: RemovalsHeldParams): string {
  const what =
    removing.kind === 'removals'
      ? `would send ${count(held, 'removal')}`
      : `would let the consumer drop ${count(held, 'user')} (the last full snapshot had ${removing.knownUsers ?? 0}, this one ${removing.snapshots}; snapshot.completed was not sent)`;
  const sent =
    run.sends === 'snapshot' ? `the run's ${count(run.snapshots, 'user')} were sent as user.snapshot` : `the run's ${count(run.upserts, 'upsert')} were sent`;
  return (
    `Mass-deletion guard: run ${run.runId} ${what}, more than the ${thresholdWords} allowed` +
    (allowance === undefined ? '' : ` and more than the ${allowance} allowed once`) +
    `. No removal was sent and the delta link stays where it was; ${sent}. ` +
    `If the deletions are intended, allow them once: npm run sync -- --once --allow-removals ${held}, or set SYNC_ALLOW_REMOVALS=${held} ` +
    `(used by one run, then ignored until changed). If not, restore the users (soft-deleted users can be restored for 30 days); each run checks again.`
  );
}

export const RunErrorMessages = {
  [RunErrorCodes.removalsHeld]: removalsHeld,
} satisfies ErrorMessages<RunErrorCode>;

/** REMOVALS_HELD: the guard held the run. A type of its own, so callers tell it apart without comparing codes or reading `details`. */
export class RemovalsHeldError extends SyncError {
  override readonly name = 'RemovalsHeldError';
  /** The removals held back. */
  readonly removals: number;
  readonly threshold: number;

  constructor(params: RemovalsHeldParams) {
    const { run, held: removals, threshold } = params;
    super(RunErrorCodes.removalsHeld, messageOf(RunErrorMessages, RunErrorCodes.removalsHeld, params), {
      details: { runId: run.runId, removals, threshold, upserts: run.upserts },
    });
    this.removals = removals;
    this.threshold = threshold;
  }
}

export function isRemovalsHeld(error: unknown): error is RemovalsHeldError {
  return error instanceof RemovalsHeldError;
}

/** A RemovalsHeldError, its message from RunErrorMessages (the family has one code: `_code` is there for the factories' common shape). */
export function createRunError(_code: RunErrorCode, params: MessageParams<typeof RunErrorMessages, RunErrorCode>): RemovalsHeldError {
  return new RemovalsHeldError(params);
}

/** What one attempt of a run did, for the words of a run that stopped (`entries`: the users and removals read, "users" in the words). */
export interface AttemptProgress {
  readonly runId: string;
  readonly entries: number;
  readonly pages: number;
  readonly messages: number;
}

const attemptWords = ({ runId, entries, pages, messages }: AttemptProgress): string =>
  `run ${runId} had read ${count(entries, 'user')} in ${count(pages, 'page')} and written ${count(messages, 'message')} in this attempt`;
const resumeWords = `the checkpoint holds the last page whose messages were all accepted; the next run (or the host's retry) resumes there`;

/** RUN_INTERRUPTED at the end of a run stopped on request: what the attempt did, and where the next one resumes. */
export function stoppedOnRequest(progress: AttemptProgress, options: SyncErrorOptions): SyncError {
  return createCoreError(CoreErrorCodes.runInterrupted, { problem: 'stoppedOnRequest', progress: attemptWords(progress), resume: resumeWords }, options);
}

/** The failure that stopped a run that had made progress: its code and message, then what the attempt did and where the next one resumes. */
export function withAttemptProgress(failure: SyncError, progress: AttemptProgress, options: SyncErrorOptions): SyncError {
  return new SyncError(
    failure.code,
    `${failure.message}\nThe ${attemptWords(progress)} before it stopped; those stay in the queue, and ${resumeWords}.`,
    options,
  );
}
