import type { TokenCredential } from '@azure/core-auth';
import type { StorageRetryOptions } from '@azure/storage-queue';
import { ContainerClient } from '@azure/storage-blob';
import type { StorageConnection } from '../settings';
import { userAgentPrefix } from '../core';

/**
 * What the queue and the blob containers (run state, claim checks) share: the storage connection
 * the Functions host also reads (AzureWebJobsStorage), and one retry shape.
 *
 * Storage's own StorageRetryPolicy is kept (it retries 500/503, refused and reset connections);
 * its number of tries is derived from the run's retry budget, so that an outage as long as the
 * budget is waited out and a dead account fails in about that time. (Its pipeline has no place
 * for a per-attempt policy, so the budget is applied per call here, not shared with Graph's.)
 */
export function storageRetryOptions(budgetMs: number): StorageRetryOptions {
  const retryDelayInMs = 1000;
  const maxRetryDelayInMs = 30_000;
  // StorageRetryPolicy waits min((2^(try-1) - 1) * delay, max) before try `try + 1`.
  let total = 0;
  let maxTries = 1;
  while (total < budgetMs && maxTries < 1000) {
    total += Math.min((2 ** Math.min(maxTries - 1, 30) - 1) * retryDelayInMs, maxRetryDelayInMs);
    maxTries++;
  }
  return { maxTries, retryDelayInMs, maxRetryDelayInMs, tryTimeoutInMs: 30_000 };
}

export interface StorageClientOptions {
  /** For identity-based connections. */
  credential?: TokenCredential;
  retryOptions?: StorageRetryOptions;
}

/** Options both storage packages accept (each has its own StoragePipelineOptions type). */
export function pipelineOptions(options: StorageClientOptions): { retryOptions: StorageRetryOptions; userAgentOptions: { userAgentPrefix: string } } {
  return { retryOptions: options.retryOptions ?? storageRetryOptions(600_000), userAgentOptions: { userAgentPrefix } };
}

export function createContainerClient(storage: StorageConnection, container: string, options: StorageClientOptions = {}): ContainerClient {
  if (storage.kind === 'connectionString') return new ContainerClient(storage.connectionString, container, pipelineOptions(options));
  if (options.credential === undefined) throw new Error(`createContainerClient: a credential is required for ${storage.settingName}`);
  return new ContainerClient(`${storage.blobServiceUri}/${container}`, options.credential, pipelineOptions(options));
}

/** Where a container lives and which setting said so: safe to print (never includes a key). */
export function describeContainer(storage: StorageConnection, container: string): string {
  const endpoint = storage.kind === 'connectionString' ? storage.blobEndpoint : storage.blobServiceUri;
  return `blob container "${container}" at ${endpoint} (setting ${storage.settingName})`;
}

/** Storage's error code (x-ms-error-code, e.g. QueueNotFound, LeaseNotPresentWithBlobOperation) of a failed call. */
export function storageErrorCode(error: unknown): string | undefined {
  const failed = error as { code?: unknown; details?: { errorCode?: unknown }; response?: { headers?: { get?: (name: string) => string | undefined } } };
  if (typeof failed.code === 'string') return failed.code;
  if (typeof failed.details?.errorCode === 'string') return failed.details.errorCode;
  return failed.response?.headers?.get?.('x-ms-error-code');
}

/** Creates a container if missing; an identity allowed only to write blobs (403) goes on, as infra/ creates it. */
export async function ensureContainer(client: ContainerClient): Promise<void> {
  try {
    await client.createIfNotExists();
  } catch (error) {
    if ((error as { statusCode?: unknown }).statusCode !== 403) throw error;
  }
}
