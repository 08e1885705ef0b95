import { type ErrorMessages, type MessageParams, SyncError, SyncErrorCodes, type SyncErrorOptions, messageOf } from '../core';

/**
 * The storage family of errors (see core/sync-error.ts for how families work): what the queue
 * and the blob containers (run state, claim checks) share. An identity-based connection that
 * could not get a token says so, with the fix, as Key Vault's message does (not "could not create
 * the queue").
 */

export const StorageErrorCodes = {
  storageAuthFailed: SyncErrorCodes.storageAuthFailed,
} as const;

export type StorageErrorCode = (typeof StorageErrorCodes)[keyof typeof StorageErrorCodes];

export const StorageErrorMessages = {
  /** `target`: the queue or blob described (describeQueueTarget, describeContainer). */
  [StorageErrorCodes.storageAuthFailed]: (p: { readonly target: string; readonly causeText: string }) =>
    `No identity could get a token for Azure Storage (${p.target}): in Azure enable the Function App's managed identity and set AzureWebJobsStorage__credential=managedidentity ` +
    `(with AzureWebJobsStorage__clientId for a user-assigned one); on a laptop leave AzureWebJobsStorage__credential unset and sign in with "az login" (DefaultAzureCredential). ` +
    `Cause: ${p.causeText}`,
} satisfies ErrorMessages<StorageErrorCode>;

/** A SyncError of the storage family, its message from StorageErrorMessages. */
export function createStorageError<C extends StorageErrorCode>(
  code: C,
  params: MessageParams<typeof StorageErrorMessages, C>,
  options: SyncErrorOptions = {},
): SyncError {
  return new SyncError(code, messageOf(StorageErrorMessages, code, params), options);
}
