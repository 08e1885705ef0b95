import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import type { QueueClient } from '@azure/storage-queue';
import { RunStateStore, checkpointVersion, type RunCheckpoint, type RunLock } from './checkpoint';
import { createClientSecretSource, type ClientSecretSource } from './credential';
import { SyncError, SyncErrorCodes, toSyncError } from './errors';
import { readUserPages, type FetchedUsersPage } from './graph';
import { buildUserMessage, encodeMessage, overflowMessage, type RunInfo } from './messages';
import { OverflowStore } from './overflow';
import { QueueSender, createQueueClient, describeQueueTarget, ensureQueue } from './queue';
import { RetryBudget, type BudgetSource } from './retry';
import type { SyncSettings } from './settings';
import { createContainerClient, describeContainer, storageRetryOptions } from './storage';
import { createAppTokenProvider, graphTokenCredential, type AppTokenProvider, type GraphTokenCredential } from './token';
import { count } from './words';

/**
 * The sync that joins the steps: settings → credential → token → Graph pages → messages → queue,
 * with the run state (checkpoint.ts) beside it. A runtime holds what should outlive one run (the
 * cached secret, msal's token cache, the storage clients); the Function keeps one per worker.
 *
 * A run takes the run lock, resumes the unfinished run it finds (same runId, from the saved page
 * link) or starts a new one, and saves the checkpoint after every page whose messages were all
 * accepted by the queue. It fails by throwing, so the Functions host's retry policy runs it again.
 */

/** The run's retry budget, replaced at the start of each run. */
class RunBudget implements BudgetSource {
  #budget: RetryBudget;
  constructor(readonly limitMs: number) {
    this.#budget = new RetryBudget(limitMs);
  }
  current(): RetryBudget {
    return this.#budget;
  }
  reset(): RetryBudget {
    this.#budget = new RetryBudget(this.limitMs);
    return this.#budget;
  }
}

export interface SyncRuntime {
  readonly settings: SyncSettings;
  readonly secretSource: ClientSecretSource;
  readonly tokenProvider: AppTokenProvider;
  readonly graphCredential: GraphTokenCredential;
  readonly queueClient: QueueClient;
  readonly queueTarget: string;
  readonly runState: RunStateStore;
  readonly overflow: OverflowStore;
  readonly budget: RunBudget;
  /** Set once the queue is known to exist. */
  queueReady: boolean;
}

export interface SyncRuntimeOptions {
  /** For Key Vault; default DefaultAzureCredential (the managed identity in Azure, AZURE_CLIENT_ID honoured). */
  keyVaultCredential?: TokenCredential;
  /** For an identity-based storage connection; default follows AzureWebJobsStorage__credential / __clientId. */
  storageCredential?: TokenCredential;
}

export function createSyncRuntime(settings: SyncSettings, options: SyncRuntimeOptions = {}): SyncRuntime {
  const budget = new RunBudget(settings.retryBudgetMs);
  const keyVaultCredential =
    options.keyVaultCredential ??
    new DefaultAzureCredential(settings.managedIdentityClientId === undefined ? {} : { managedIdentityClientId: settings.managedIdentityClientId });
  const secretSource = createClientSecretSource(settings.keyVaultUrl, settings.clientSecretName, keyVaultCredential, { budgets: budget });
  const tokenProvider = createAppTokenProvider({
    tenantId: settings.tenantId,
    clientId: settings.clientId,
    authorityHost: settings.authorityHost,
    scope: `${settings.graphBaseUrl}/.default`,
    secretSource,
    secretName: settings.clientSecretName,
    budgets: budget,
  });
  const storage = settings.storage;
  let storageCredential = options.storageCredential;
  if (storageCredential === undefined && storage.kind === 'identity') {
    storageCredential =
      storage.credential === 'managedidentity'
        ? new ManagedIdentityCredential(storage.clientId === undefined ? {} : { clientId: storage.clientId })
        : new DefaultAzureCredential(storage.clientId === undefined ? {} : { managedIdentityClientId: storage.clientId });
  }
  const storageOptions = { retryOptions: storageRetryOptions(settings.retryBudgetMs), ...(storageCredential === undefined ? {} : { credential: storageCredential }) };
  const queueClient = createQueueClient(storage, settings.queueName, storageOptions);
  const stateContainer = createContainerClient(storage, settings.stateContainer, storageOptions);
  const overflowContainer = createContainerClient(storage, settings.overflowContainer, storageOptions);
  return {
    settings,
    secretSource,
    tokenProvider,
    graphCredential: graphTokenCredential(tokenProvider),
    queueClient,
    queueTarget: describeQueueTarget(storage, settings.queueName),
    runState: new RunStateStore(stateContainer, `${settings.queueName}.json`, describeContainer(storage, settings.stateContainer)),
    overflow: new OverflowStore(overflowContainer, describeContainer(storage, settings.overflowContainer)),
    budget,
    queueReady: false,
  };
}

export function adminConsentUrl(settings: Pick<SyncSettings, 'authorityHost' | 'tenantId' | 'clientId'>): string {
  return `${settings.authorityHost}/${encodeURIComponent(settings.tenantId)}/adminconsent?client_id=${encodeURIComponent(settings.clientId)}`;
}

export interface SyncProgress {
  /** This invocation's pages, users read and messages accepted. */
  readonly pages: number;
  readonly users: number;
  readonly messages: number;
}

export interface SyncSummary extends SyncProgress {
  /** `completed`, or `locked`: another run held the run lock and this one sent nothing. */
  readonly outcome: 'completed' | 'locked';
  readonly runId: string;
  readonly runAt: string;
  /** Whether this invocation resumed an unfinished run (and from which page). */
  readonly resumed: boolean;
  readonly resumedAtPage: number | undefined;
  /** Messages that went through the claim check (over 64 KiB). */
  readonly overflowed: number;
  /** Time spent on failed attempts and waiting between them. */
  readonly retryMs: number;
  readonly durationMs: number;
  /** Whether the run's Graph token came from msal's in-memory cache. */
  readonly tokenFromCache: boolean;
  readonly queue: string;
}

export interface RunSyncOptions {
  /** Called after each Graph page has been handed to the queue sender. */
  onProgress?: (progress: SyncProgress) => void;
  /** Things an operator should know that are not failures (a resumed run, an expired page link). */
  onNotice?: (message: string) => void;
  /** Stops the run cleanly: no more Graph reads, sends in flight drained, checkpoint saved. */
  abortSignal?: AbortSignal;
  /** Default Date.now, for durations. */
  now?: () => number;
}

export async function runSync(runtime: SyncRuntime, run: RunInfo, options: RunSyncOptions = {}): Promise<SyncSummary> {
  const now = options.now ?? Date.now;
  const notice = options.onNotice ?? (() => undefined);
  const started = now();
  const budget = runtime.budget.reset();

  let lock: RunLock;
  try {
    lock = await runtime.runState.lock();
  } catch (error) {
    const failure = toSyncError(error);
    if (failure.code !== SyncErrorCodes.runLocked) throw failure;
    notice(failure.message);
    return {
      outcome: 'locked', runId: run.runId, runAt: run.runAt.toISOString(), resumed: false, resumedAtPage: undefined,
      pages: 0, users: 0, messages: 0, overflowed: 0, retryMs: 0, durationMs: Math.round(now() - started), tokenFromCache: false, queue: runtime.queueTarget,
    };
  }

  try {
    return await runLocked(runtime, lock, run, budget, options, started);
  } finally {
    await lock.release();
  }
}

async function runLocked(runtime: SyncRuntime, lock: RunLock, invocation: RunInfo, budget: RetryBudget, options: RunSyncOptions, started: number): Promise<SyncSummary> {
  const now = options.now ?? Date.now;
  const notice = options.onNotice ?? (() => undefined);
  const { settings } = runtime;
  const found = lock.found;
  if (lock.unreadable) notice(`The run state held something that is not a checkpoint; it is replaced and a new run starts.`);
  const resumed = found?.status === 'running';
  const run: RunInfo = resumed ? { runId: found.runId, runAt: new Date(found.runAt) } : invocation;
  const resumedAtPage = resumed ? found.pages + 1 : undefined;
  if (resumed) {
    notice(
      `Resuming run ${run.runId} (started ${run.runAt.toISOString()}, attempt ${found.attempts + 1}) at page ${found.pages + 1}: ` +
        `${count(found.messages, 'message was', 'messages were')} accepted before it stopped; the page it stopped in is sent again with the same message ids.`,
    );
  }

  // Progress through the directory (the checkpoint's counts) and this invocation's own.
  let total = { pages: resumed ? found.pages : 0, users: resumed ? found.users : 0, messages: resumed ? found.messages : 0 };
  let startLink = resumed ? (found.nextLink ?? undefined) : undefined;
  const attempts = (resumed ? found.attempts : 0) + 1;
  const checkpoint = (fields: Partial<RunCheckpoint>): RunCheckpoint => ({
    version: checkpointVersion,
    status: 'running',
    runId: run.runId,
    runAt: run.runAt.toISOString(),
    mode: 'full',
    nextLink: startLink ?? null,
    ...total,
    attempts,
    updatedAt: new Date(now()).toISOString(),
    ...fields,
  });
  await lock.save(checkpoint({}));

  let pages = 0;
  let users = 0;
  let overflowed = 0;
  let tokenFromCache: boolean | undefined;
  const sender = new QueueSender(runtime.queueClient, settings.sendConcurrency, runtime.queueTarget);
  // Checkpoint writes, in page order, each after its page's sends were all accepted.
  let saving: Promise<void> = Promise.resolve();
  let saveFailure: SyncError | undefined;

  try {
    if (!runtime.queueReady) {
      await ensureQueue(runtime.queueClient, runtime.queueTarget);
      runtime.queueReady = true;
    }
    for (let restarted = false; ; restarted = true) {
      try {
        await sendPages(startLink);
        break;
      } catch (error) {
        if (restarted || !(error instanceof SyncError) || error.code !== SyncErrorCodes.graphPageLinkExpired) throw error;
        // A drained queue first: the restart re-sends, and the checkpoint must not advance from the old pages.
        await sender.drain();
        await saving;
        notice(
          `The ${startLink !== undefined && pages === 0 ? 'saved ' : ''}page link of run ${run.runId} has expired; the run starts again from the first page under the same runId ` +
            `(users already sent are sent again with the same message ids).`,
        );
        startLink = undefined;
        total = { pages: 0, users: 0, messages: 0 };
      }
    }
    await sender.drain();
    await saving;
    if (saveFailure !== undefined) throw saveFailure;
    await lock.save(checkpoint({ status: 'finished', nextLink: null }));
  } catch (error) {
    // Messages already accepted stay; the checkpoint holds the last page whose sends all succeeded.
    await sender.drain().catch(() => undefined);
    await saving.catch(() => undefined);
    throw stopped(toSyncError(error), options.abortSignal?.aborted === true);
  }

  return {
    outcome: 'completed',
    runId: run.runId,
    runAt: run.runAt.toISOString(),
    resumed,
    resumedAtPage,
    pages,
    users,
    messages: sender.sent,
    overflowed,
    retryMs: budget.spentMs,
    durationMs: Math.round(now() - started),
    tokenFromCache: tokenFromCache ?? false,
    queue: runtime.queueTarget,
  };

  async function sendPages(from: string | undefined): Promise<void> {
    const pageIterator = readUserPages({
      baseUrl: settings.graphBaseUrl,
      fields: settings.userFields,
      adminConsentUrl: adminConsentUrl(settings),
      credential: runtime.graphCredential,
      budgets: runtime.budget,
      attemptTimeoutMs: settings.graphRequestTimeoutMs,
      ...(from === undefined ? {} : { startUrl: from }),
      ...(options.abortSignal === undefined ? {} : { abortSignal: options.abortSignal }),
    })[Symbol.asyncIterator]();

    // Fetch page n+1 while page n's messages are being sent.
    let next = pageIterator.next();
    for (;;) {
      const result = await next;
      if (result.done === true) break;
      if (saveFailure !== undefined) throw saveFailure;
      if (options.abortSignal?.aborted === true) {
        await pageIterator.return(undefined);
        throw new SyncError(SyncErrorCodes.runInterrupted, 'The run was asked to stop.');
      }
      next = pageIterator.next();
      next.catch(() => undefined); // observed below; avoid an unhandled rejection if sending fails first
      await sendPage(result.value);
    }
  }

  async function sendPage(page: FetchedUsersPage): Promise<void> {
    tokenFromCache ??= runtime.graphCredential.lastFromCache;
    for (const user of page.users) {
      const message = buildUserMessage(user, run);
      let text = encodeMessage(message, settings.messageEncoding);
      if (text === undefined) {
        const reference = await runtime.overflow.put(message);
        overflowed++;
        text = encodeMessage(overflowMessage(message, reference), settings.messageEncoding);
        if (text === undefined) throw new SyncError(SyncErrorCodes.overflowFailed, `The claim-check message for user ${user.id} is itself over the queue's limit.`);
      }
      await sender.enqueue(text);
    }
    pages++;
    users += page.users.length;
    total = { pages: total.pages + 1, users: total.users + page.users.length, messages: total.messages + page.users.length };
    const state = checkpoint({ nextLink: page.nextLink ?? null });
    const accepted = sender.barrier();
    saving = saving.then(async () => {
      if (saveFailure !== undefined || !(await accepted)) return;
      try {
        await lock.save(state);
      } catch (error) {
        saveFailure ??= toSyncError(error);
      }
    });
    options.onProgress?.({ pages, users, messages: sender.sent });
  }

  function stopped(failure: SyncError, interrupted: boolean): SyncError {
    const where = `run ${run.runId} had read ${count(users, 'user')} in ${count(pages, 'page')} and written ${count(sender.sent, 'message')} in this attempt`;
    const resume = `the checkpoint holds the last page whose messages were all accepted; the next run (or the host's retry) resumes there`;
    if (interrupted) {
      return new SyncError(SyncErrorCodes.runInterrupted, `Stopped on request: ${where}; those stay in the queue, and ${resume}.`, {
        cause: failure.cause ?? failure,
        details: { runId: run.runId, users, pages, messages: sender.sent },
      });
    }
    if (pages === 0 && sender.sent === 0) return failure;
    return new SyncError(failure.code, `${failure.message}\nThe ${where} before it stopped; those stay in the queue, and ${resume}.`, {
      cause: failure.cause ?? failure,
      details: { ...failure.details, runId: run.runId, users, pages, messages: sender.sent },
    });
  }
}
