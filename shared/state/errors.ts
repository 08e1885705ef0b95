import { type ErrorMessages, type MessageParams, SyncError, SyncErrorCodes, type SyncErrorOptions, messageOf } from '../core';

/**
 * The state family of errors (see core/sync-error.ts for how families work): the run lock and
 * the run state in Blob Storage (checkpoint.ts, membership.ts; run/ for a membership reading the
 * saved delta link needs and cannot find).
 */

export const StateErrorCodes = {
  runLocked: SyncErrorCodes.runLocked,
  runStateFailed: SyncErrorCodes.runStateFailed,
} as const;

export type StateErrorCode = (typeof StateErrorCodes)[keyof typeof StateErrorCodes];

/** What was being done with a blob of the run state. */
export type StateAction = 'prepare' | 'lock' | 'read' | 'write';

export type RunLockedParams =
  /** Another run's lease; `where`: the container described (describeContainer). */
  | { readonly problem: 'held'; readonly blobName: string; readonly where: string; readonly leaseSeconds: number }
  /** This run's lease gone (HTTP `status`); `renewCauseText`: why renewing it failed, when it did. */
  | { readonly problem: 'lost'; readonly blobName: string; readonly status: number; readonly renewCauseText: string | undefined };

export type RunStateFailedParams =
  /** `hint`: what the failure suggests (a 403, or no connection), if anything. */
  | {
      readonly problem: 'checkpoint';
      readonly action: StateAction;
      readonly blobName: string;
      readonly where: string;
      readonly hint: 'forbidden' | 'unreachable' | undefined;
      readonly causeText: string;
    }
  | { readonly problem: 'membership'; readonly action: StateAction; readonly name: string; readonly where: string; readonly causeText: string }
  /** The membership blob the saved delta link names (`name`, null when none is named) is not there. */
  | { readonly problem: 'membersMissing'; readonly name: string | null };

const hints = {
  forbidden: ': the identity needs "Storage Blob Data Contributor" on the container (infra/ assigns it)',
  unreachable: ': check the storage setting and that the account (or Azurite with its blob service) is running',
} as const;

function runLocked(p: RunLockedParams): string {
  if (p.problem === 'held') {
    return (
      `Another run holds the run lock (a lease on ${p.blobName} in the ${p.where}); this run sends nothing and leaves the work to it. ` +
      `A lock left by a run that died frees itself within ${p.leaseSeconds} s.`
    );
  }
  const renewing = p.renewCauseText === undefined ? '' : `; renewing it failed: ${p.renewCauseText}`;
  return `This run lost the run lock on ${p.blobName} (HTTP ${String(p.status)}${renewing}): it stops so that two runs never both advance the checkpoint.`;
}

function runStateFailed(p: RunStateFailedParams): string {
  switch (p.problem) {
    case 'checkpoint':
      return `Could not ${p.action} the run state ${p.blobName} in the ${p.where}${p.hint === undefined ? '' : hints[p.hint]} (${p.causeText}).`;
    case 'membership':
      return `Could not ${p.action} the group membership ${p.name} in the ${p.where} (${p.causeText}).`;
    case 'membersMissing':
      return (
        `The group membership ${p.name ?? ''} the saved delta link goes with is missing from the run state: ` +
        `run npm run sync -- --once --full (or set SYNC_MODE=full for one run) to send a new snapshot of the group.`
      );
  }
}

export const StateErrorMessages = {
  [StateErrorCodes.runLocked]: runLocked,
  [StateErrorCodes.runStateFailed]: runStateFailed,
} satisfies ErrorMessages<StateErrorCode>;

/** A SyncError of the state family, its message from StateErrorMessages. */
export function createStateError<C extends StateErrorCode>(
  code: C,
  params: MessageParams<typeof StateErrorMessages, C>,
  options: SyncErrorOptions = {},
): SyncError {
  return new SyncError(code, messageOf(StateErrorMessages, code, params), options);
}
