import { type ErrorMessages, type MessageParams, SyncError, SyncErrorCodes, type SyncErrorOptions, messageOf } from '../core';

/**
 * The queue family of errors (see core/sync-error.ts for how families work): creating and
 * writing to the users queue (queue.ts maps Storage's answers), and the claim check of a message
 * over the queue's limit (overflow.ts, run/sink.ts).
 */

export const QueueErrorCodes = {
  queueUnreachable: SyncErrorCodes.queueUnreachable,
  queueAccessDenied: SyncErrorCodes.queueAccessDenied,
  queueSendFailed: SyncErrorCodes.queueSendFailed,
  overflowFailed: SyncErrorCodes.overflowFailed,
} as const;

export type QueueErrorCode = (typeof QueueErrorCodes)[keyof typeof QueueErrorCodes];

/** What the sync was doing with the queue. */
export type QueueAction = 'create' | 'send';

/** `target`: the queue described (describeQueueTarget). */
export type QueueSendFailedParams =
  | { readonly problem: 'queueMissing'; readonly target: string }
  | { readonly problem: 'failed'; readonly action: QueueAction; readonly target: string; readonly causeText: string };

export type OverflowFailedParams =
  /** `where`: the overflow container described (describeContainer). */
  | { readonly problem: 'blobFailed'; readonly userId: string; readonly where: string; readonly causeText: string }
  | { readonly problem: 'tooLargeAsClaimCheck'; readonly type: string; readonly messageId: string };

const verb = (action: QueueAction): string => (action === 'create' ? 'create' : 'write to');

function sendFailed(p: QueueSendFailedParams): string {
  if (p.problem === 'queueMissing')
    return `The ${p.target} does not exist, and this identity may not create it: create the queue (infra/ does), or grant "Storage Queue Data Contributor".`;
  return `Could not ${verb(p.action)} the ${p.target}: ${p.causeText}`;
}

function overflowFailed(p: OverflowFailedParams): string {
  if (p.problem === 'tooLargeAsClaimCheck') return `The ${p.type} message ${p.messageId} is over the queue's limit even as a claim check.`;
  return `The message for user ${p.userId} is over the queue's 64 KiB and could not be stored in the ${p.where} (${p.causeText}).`;
}

export const QueueErrorMessages = {
  [QueueErrorCodes.queueUnreachable]: (p: { readonly target: string; readonly causeText: string }) =>
    `Could not reach the ${p.target}: ${p.causeText}. Check the setting, and that the storage account (or Azurite) is running.`,
  [QueueErrorCodes.queueAccessDenied]: (p: { readonly action: QueueAction; readonly target: string; readonly status: number }) =>
    `Storage refused to ${verb(p.action)} the ${p.target} (${String(p.status)}): with a managed identity it needs the "Storage Queue Data Contributor" role on the account; with a connection string, check the key.`,
  [QueueErrorCodes.queueSendFailed]: sendFailed,
  [QueueErrorCodes.overflowFailed]: overflowFailed,
} satisfies ErrorMessages<QueueErrorCode>;

/** A SyncError of the queue family, its message from QueueErrorMessages. */
export function createQueueError<C extends QueueErrorCode>(
  code: C,
  params: MessageParams<typeof QueueErrorMessages, C>,
  options: SyncErrorOptions = {},
): SyncError {
  return new SyncError(code, messageOf(QueueErrorMessages, code, params), options);
}
