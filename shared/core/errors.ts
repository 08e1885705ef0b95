import { describeCause } from './causes';
import { count } from './format';
import { type MessageParams, SyncError, SyncErrorCodes, type SyncErrorOptions, type ErrorMessages, messageOf } from './sync-error';

/**
 * The core family of errors (see sync-error.ts for how families work): what any dependency or
 * the run as a whole can meet, below every folder that owns a service: a failure nothing mapped
 * (UNEXPECTED), the run's retry budget spent (RETRY_BUDGET_EXHAUSTED, retry.ts), and a stop asked
 * for (RUN_INTERRUPTED: while Graph was read, between pages, or at the end of the run).
 */

export const CoreErrorCodes = {
  unexpected: SyncErrorCodes.unexpected,
  retryBudgetExhausted: SyncErrorCodes.retryBudgetExhausted,
  runInterrupted: SyncErrorCodes.runInterrupted,
} as const;

export type CoreErrorCode = (typeof CoreErrorCodes)[keyof typeof CoreErrorCodes];

export interface RetryBudgetParams {
  readonly dependency: string;
  /** e.g. "HTTP 503". */
  readonly lastFailure: string;
  readonly attempts: number;
  readonly triedMs: number;
  /** SYNC_RETRY_BUDGET_SECONDS, in ms. */
  readonly limitMs: number;
  /** The setting that names the dependency's endpoint, when there is one. */
  readonly setting: string | undefined;
}

export type InterruptedParams =
  | { readonly problem: 'graphStopped'; readonly causeText: string }
  | { readonly problem: 'askedToStop' }
  /** `progress` and `resume`: run/errors.ts's words for what the attempt did and where the next one resumes. */
  | { readonly problem: 'stoppedOnRequest'; readonly progress: string; readonly resume: string };

export const CoreErrorMessages = {
  [CoreErrorCodes.unexpected]: (p: { readonly causeText: string }) => `Unexpected failure: ${p.causeText}`,
  [CoreErrorCodes.retryBudgetExhausted]: (p: RetryBudgetParams) =>
    `${p.dependency} kept failing: last answer ${p.lastFailure}, ${count(p.attempts, 'attempt')} over ${(p.triedMs / 1000).toFixed(1)} s; ` +
    `the run's retry budget (SYNC_RETRY_BUDGET_SECONDS=${Math.round(p.limitMs / 1000)}) is spent` +
    (p.setting === undefined ? '.' : `. Check ${p.setting} and the service's health.`),
  [CoreErrorCodes.runInterrupted]: (p: InterruptedParams) => {
    switch (p.problem) {
      case 'graphStopped':
        return `Reading Graph was stopped (${p.causeText}).`;
      case 'askedToStop':
        return 'The run was asked to stop.';
      case 'stoppedOnRequest':
        return `Stopped on request: ${p.progress}; those stay in the queue, and ${p.resume}.`;
    }
  },
} satisfies ErrorMessages<CoreErrorCode>;

/** A SyncError of the core family, its message from CoreErrorMessages. */
export function createCoreError<C extends CoreErrorCode>(
  code: C,
  params: MessageParams<typeof CoreErrorMessages, C>,
  options: SyncErrorOptions = {},
): SyncError {
  return new SyncError(code, messageOf(CoreErrorMessages, code, params), options);
}

/** Normalise anything thrown into a SyncError (the boundary's job; see functions/). */
export function toSyncError(error: unknown): SyncError {
  if (error instanceof SyncError) return error;
  return createCoreError(CoreErrorCodes.unexpected, { causeText: describeCause(error) }, { cause: error });
}
