import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import type { QueueClient } from '@azure/storage-queue';
import { createClientSecretSource, type ClientSecretSource } from './credential';
import { SyncError, toSyncError } from './errors';
import { readUserPages } from './graph';
import { buildUserMessage, encodeMessage, type RunInfo } from './messages';
import { QueueSender, createQueueClient, describeQueueTarget, ensureQueue } from './queue';
import type { SyncSettings } from './settings';
import { createAppTokenProvider, type AppTokenProvider } from './token';

/**
 * The sync that joins the steps: settings → credential → token → Graph pages → messages → queue.
 * A runtime holds what should outlive one run (the cached secret, msal's token cache, the queue
 * client); the Function keeps one per worker.
 */

export interface SyncRuntime {
  readonly settings: SyncSettings;
  readonly secretSource: ClientSecretSource;
  readonly tokenProvider: AppTokenProvider;
  readonly queueClient: QueueClient;
  readonly queueTarget: string;
  /** Set once the queue is known to exist. */
  queueReady: boolean;
}

export interface SyncRuntimeOptions {
  /** For Key Vault; default DefaultAzureCredential (the managed identity in Azure, AZURE_CLIENT_ID honoured). */
  keyVaultCredential?: TokenCredential;
  /** For an identity-based queue connection; default follows AzureWebJobsStorage__credential / __clientId. */
  storageCredential?: TokenCredential;
}

export function createSyncRuntime(settings: SyncSettings, options: SyncRuntimeOptions = {}): SyncRuntime {
  const keyVaultCredential =
    options.keyVaultCredential ??
    new DefaultAzureCredential(settings.managedIdentityClientId === undefined ? {} : { managedIdentityClientId: settings.managedIdentityClientId });
  const secretSource = createClientSecretSource(settings.keyVaultUrl, settings.clientSecretName, keyVaultCredential);
  const tokenProvider = createAppTokenProvider({
    tenantId: settings.tenantId,
    clientId: settings.clientId,
    authorityHost: settings.authorityHost,
    scope: `${settings.graphBaseUrl}/.default`,
    secretSource,
    secretName: settings.clientSecretName,
  });
  const storage = settings.storage;
  let storageCredential = options.storageCredential;
  if (storageCredential === undefined && storage.kind === 'identity') {
    storageCredential =
      storage.credential === 'managedidentity'
        ? new ManagedIdentityCredential(storage.clientId === undefined ? {} : { clientId: storage.clientId })
        : new DefaultAzureCredential(storage.clientId === undefined ? {} : { managedIdentityClientId: storage.clientId });
  }
  const queueClient = createQueueClient(storage, settings.queueName, storageCredential === undefined ? {} : { credential: storageCredential });
  return { settings, secretSource, tokenProvider, queueClient, queueTarget: describeQueueTarget(storage, settings.queueName), queueReady: false };
}

export function adminConsentUrl(settings: Pick<SyncSettings, 'authorityHost' | 'tenantId' | 'clientId'>): string {
  return `${settings.authorityHost}/${encodeURIComponent(settings.tenantId)}/adminconsent?client_id=${encodeURIComponent(settings.clientId)}`;
}

export interface SyncProgress {
  readonly pages: number;
  readonly users: number;
  readonly messages: number;
}

export interface SyncSummary extends SyncProgress {
  readonly runId: string;
  readonly runAt: string;
  readonly durationMs: number;
  /** Whether the run's Graph token came from msal's in-memory cache. */
  readonly tokenFromCache: boolean;
  readonly queue: string;
}

export interface RunSyncOptions {
  /** Called after each Graph page has been handed to the queue sender. */
  onProgress?: (progress: SyncProgress) => void;
  /** Default Date.now, for durations. */
  now?: () => number;
}

export async function runSync(runtime: SyncRuntime, run: RunInfo, options: RunSyncOptions = {}): Promise<SyncSummary> {
  const now = options.now ?? Date.now;
  const started = now();
  const { settings } = runtime;
  let tokenFromCache: boolean | undefined;
  let pages = 0;
  let users = 0;
  const sender = new QueueSender(runtime.queueClient, settings.sendConcurrency, runtime.queueTarget);

  try {
    if (!runtime.queueReady) {
      await ensureQueue(runtime.queueClient, runtime.queueTarget);
      runtime.queueReady = true;
    }
    const pageIterator = readUserPages({
      baseUrl: settings.graphBaseUrl,
      fields: settings.userFields,
      adminConsentUrl: adminConsentUrl(settings),
      getAccessToken: async () => {
        const token = await runtime.tokenProvider.getToken();
        tokenFromCache ??= token.fromCache;
        return token.accessToken;
      },
    })[Symbol.asyncIterator]();

    // Fetch page n+1 while page n's messages are being sent.
    let next = pageIterator.next();
    for (;;) {
      const result = await next;
      if (result.done === true) break;
      next = pageIterator.next();
      next.catch(() => undefined); // observed below; avoid an unhandled rejection if sending fails first
      pages++;
      for (const user of result.value) {
        users++;
        await sender.enqueue(encodeMessage(buildUserMessage(user, run), settings.messageEncoding));
      }
      options.onProgress?.({ pages, users, messages: sender.sent });
    }
    await sender.drain();
  } catch (error) {
    // Messages already written stay written; say how many, so nobody re-sends blindly.
    await sender.drain().catch(() => undefined);
    const failure = toSyncError(error);
    if (pages === 0 && sender.sent === 0) throw failure;
    throw new SyncError(
      failure.code,
      `${failure.message}\nThe run ${run.runId} had read ${users} users in ${pages} pages and written ${sender.sent} messages before it stopped; those stay in the queue.`,
      { cause: failure.cause ?? failure, details: { ...failure.details, runId: run.runId, users, pages, messages: sender.sent } },
    );
  }

  return {
    runId: run.runId,
    runAt: run.runAt.toISOString(),
    pages,
    users,
    messages: sender.sent,
    durationMs: Math.round(now() - started),
    tokenFromCache: tokenFromCache ?? false,
    queue: runtime.queueTarget,
  };
}
