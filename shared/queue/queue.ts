import { QueueClient } from '@azure/storage-queue';
import { Attr, describeCause, errorType, instruments, isIdentityError, isNetworkError, SyncError } from '../core';
import type { StorageConnection } from '../settings';
import { createStorageError, pipelineOptions, type StorageClientOptions, StorageErrorCodes, storageErrorCode } from '../storage';
import { createQueueError, QueueErrorCodes } from './errors';

/**
 * The users queue. Created if missing, then written with a bounded number of sends in
 * flight: the Storage queue has no batch send, and one worker reaches roughly 1,000-2,000 msg/s
 * with 16-32 in flight. The caller keeps reading Graph while sends are in flight.
 */

/** Storage's retry (see storage.ts) and, for identity-based connections, the credential. */
export type QueueTargetOptions = StorageClientOptions;

export function createQueueClient(storage: StorageConnection, queueName: string, options: QueueTargetOptions = {}): QueueClient {
  if (storage.kind === 'connectionString') return new QueueClient(storage.connectionString, queueName, pipelineOptions(options));
  if (options.credential === undefined) throw new Error(`createQueueClient: a credential is required for ${storage.settingName}`);
  return new QueueClient(`${storage.queueServiceUri}/${queueName}`, options.credential, pipelineOptions(options));
}

/** Where the queue lives and which setting said so: safe to print (never includes a key). */
export function describeQueueTarget(storage: StorageConnection, queueName: string): string {
  const endpoint = storage.kind === 'connectionString' ? storage.queueEndpoint : storage.queueServiceUri;
  const how =
    storage.kind === 'connectionString'
      ? 'connection string'
      : `service URI with ${storage.credential === 'managedidentity' ? 'managed identity' : 'DefaultAzureCredential'}`;
  return `queue "${queueName}" at ${endpoint} (setting ${storage.settingName}, ${how})`;
}

/**
 * Creates the queue if it is missing. An identity holding only "Storage Queue Data Message Sender"
 * on a queue that infra/ provisioned may not create queues (queues/write): the service answers
 * 403 AuthorizationPermissionMismatch, and the run goes on; if the queue is really missing, the
 * first send says so.
 */
export async function ensureQueue(client: QueueClient, target: string): Promise<'created' | 'exists' | 'not-permitted'> {
  try {
    return (await client.createIfNotExists()).succeeded ? 'created' : 'exists';
  } catch (error) {
    if ((error as { statusCode?: unknown }).statusCode === 403 && storageErrorCode(error) === 'AuthorizationPermissionMismatch') return 'not-permitted';
    throw mapQueueError(error, target, 'create');
  }
}

export function mapQueueError(error: unknown, target: string, action: 'create' | 'send'): SyncError {
  if (error instanceof SyncError) return error;
  const options = { cause: error };
  if (isIdentityError(error)) return createStorageError(StorageErrorCodes.storageAuthFailed, { target, causeText: describeCause(error) }, options);
  const status = (error as { statusCode?: unknown }).statusCode;
  if (isNetworkError(error) || (status === undefined && /REQUEST_SEND_ERROR|ECONNREFUSED|ENOTFOUND/.test(String((error as { code?: unknown }).code)))) {
    return createQueueError(QueueErrorCodes.queueUnreachable, { target, causeText: describeCause(error) }, options);
  }
  if (status === 404 && storageErrorCode(error) === 'QueueNotFound')
    return createQueueError(QueueErrorCodes.queueSendFailed, { problem: 'queueMissing', target }, options);
  if (status === 403 || status === 401) return createQueueError(QueueErrorCodes.queueAccessDenied, { action, target, status }, options);
  return createQueueError(QueueErrorCodes.queueSendFailed, { problem: 'failed', action, target, causeText: describeCause(error) }, options);
}

/**
 * Sends with at most `concurrency` requests in flight. `enqueue` resolves as soon as there is
 * room, so the caller can fetch more while earlier sends complete. The first failure stops
 * further sends and is thrown from the next `enqueue` or from `drain`.
 * Hand-written (about sixty lines with its wake-up and barrier) rather than p-limit: p-limit is ESM-only and this app compiles to
 * CommonJS for the Functions host; its queueing of every task would also hold all pending
 * messages in memory, where this back-pressures the reader instead.
 */
export class QueueSender {
  #inFlight = new Set<Promise<boolean>>();
  /** Callers of enqueue waiting for a free slot, woken one per settled send (all on a failure). */
  #waiting: (() => void)[] = [];
  #failure: SyncError | undefined;
  #sent = 0;

  constructor(
    private readonly client: QueueClient,
    private readonly concurrency: number,
    private readonly target: string,
  ) {}

  get sent(): number {
    return this.#sent;
  }

  async enqueue(text: string): Promise<void> {
    // Not Promise.race(inFlight): that adds a reaction to every send in flight on each call, so
    // each message cost `concurrency` extra microtasks (npm run bench: about a sixth of the sync's CPU).
    while (this.#inFlight.size >= this.concurrency && this.#failure === undefined) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    if (this.#failure !== undefined) throw this.#failure;
    const started = performance.now();
    const latency = instruments().queueSendDuration;
    const send: Promise<boolean> = this.client.sendMessage(text).then(
      () => {
        latency.record((performance.now() - started) / 1000);
        this.#sent++;
        this.#inFlight.delete(send);
        this.#waiting.shift()?.();
        return true;
      },
      (error: unknown) => {
        latency.record((performance.now() - started) / 1000, { [Attr.errorType]: errorType(error) });
        this.#failure ??= mapQueueError(error, this.target, 'send');
        this.#inFlight.delete(send);
        for (const wake of this.#waiting.splice(0)) wake();
        return false;
      },
    );
    this.#inFlight.add(send);
  }

  /**
   * Resolves once every send enqueued so far has settled: true if all of them (and every earlier
   * one) were accepted by the queue. The run's checkpoint advances past a page only on true.
   */
  barrier(): Promise<boolean> {
    const failedBefore = this.#failure !== undefined;
    return Promise.all([...this.#inFlight]).then((results) => !failedBefore && results.every(Boolean));
  }

  /** Waits for every send in flight; throws the first failure, if any. */
  async drain(): Promise<void> {
    await Promise.all(this.#inFlight);
    if (this.#failure !== undefined) throw this.#failure;
  }
}
