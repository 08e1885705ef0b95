import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import type { QueueClient } from '@azure/storage-queue';
import { MembershipStore, type RunSends, RunStateStore } from '../state';
import { type ClientCredential, createClientCredential } from '../credential';
import { type FetchedUsersPage, groupMembersUrl, latestDeltaUrl, maxIdsPerRequest, readUserPages, usersByIdUrl, usersDeltaUrl, usersUrl } from '../graph';
import { createQueueClient, describeQueueTarget, OverflowStore } from '../queue';
import { type BudgetSource, RetryBudget } from '../core';
import type { SyncMode, SyncSettings } from '../settings';
import { createContainerClient, describeContainer, storageRetryOptions } from '../storage';
import { type AppTokenProvider, createAppTokenProvider, graphTokenCredential, type GraphTokenCredential } from '../token';

/**
 * What outlives one run (the cached secret, msal's token cache, the storage clients), built once
 * from the settings; the Function keeps one per worker. And where a walk reads its pages: which
 * Graph URL each mode, `sends` and scope starts at.
 */

/** The run's retry budget, replaced at the start of each run. */
export class RunBudget implements BudgetSource {
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
  /** How the app proves itself to Entra ID (GRAPH_CREDENTIAL). */
  readonly credential: ClientCredential;
  readonly tokenProvider: AppTokenProvider;
  readonly graphCredential: GraphTokenCredential;
  readonly queueClient: QueueClient;
  readonly queueTarget: string;
  readonly runState: RunStateStore;
  /** SYNC_GROUP_ID in delta mode: the member ids each run saw. */
  readonly membership: MembershipStore;
  readonly overflow: OverflowStore;
  readonly budget: RunBudget;
  /** Set once the queue is known to exist. */
  queueReady: boolean;
}

export interface SyncRuntimeOptions {
  /** For Key Vault; default DefaultAzureCredential (the managed identity in Azure, AZURE_CLIENT_ID honoured). */
  keyVaultCredential?: TokenCredential;
  /** GRAPH_CREDENTIAL=managed-identity: the identity whose token is the assertion; default ManagedIdentityCredential(AZURE_CLIENT_ID). */
  identityCredential?: TokenCredential;
  /** For an identity-based storage connection; default follows AzureWebJobsStorage__credential / __clientId. */
  storageCredential?: TokenCredential;
}

export function createSyncRuntime(settings: SyncSettings, options: SyncRuntimeOptions = {}): SyncRuntime {
  const budget = new RunBudget(settings.retryBudgetMs);
  const credential = createClientCredential(settings.credential, settings.managedIdentityClientId, {
    budgets: budget,
    ...(options.keyVaultCredential === undefined ? {} : { keyVaultCredential: options.keyVaultCredential }),
    ...(options.identityCredential === undefined ? {} : { identityCredential: options.identityCredential }),
  });
  const tokenProvider = createAppTokenProvider({
    tenantId: settings.tenantId,
    clientId: settings.clientId,
    authorityHost: settings.authorityHost,
    scope: `${settings.graphBaseUrl}/.default`,
    credential,
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
  const storageOptions = {
    retryOptions: storageRetryOptions(settings.retryBudgetMs),
    ...(storageCredential === undefined ? {} : { credential: storageCredential }),
  };
  const queueClient = createQueueClient(storage, settings.queueName, storageOptions);
  const stateContainer = createContainerClient(storage, settings.stateContainer, storageOptions);
  const overflowContainer = createContainerClient(storage, settings.overflowContainer, storageOptions);
  return {
    settings,
    credential,
    tokenProvider,
    graphCredential: graphTokenCredential(tokenProvider),
    queueClient,
    queueTarget: describeQueueTarget(storage, settings.queueName),
    runState: new RunStateStore(stateContainer, `${settings.queueName}.json`, describeContainer(storage, settings.stateContainer)),
    membership: new MembershipStore(stateContainer, settings.queueName, describeContainer(storage, settings.stateContainer)),
    overflow: new OverflowStore(overflowContainer, describeContainer(storage, settings.overflowContainer)),
    budget,
    queueReady: false,
  };
}

/**
 * Where a walk starts: full mode reads /users (with USER_FILTER) or the group's members; a delta
 * snapshot reads /users/delta, or, when its delta link was taken first ($deltatoken=latest:
 * link-first.ts), the group's members under SYNC_GROUP_ID and /users otherwise; a changes walk
 * starts at the delta link.
 */
export function walkStartUrl(settings: SyncSettings, mode: SyncMode, sends: RunSends, linkTaken: boolean): string {
  const { graphBaseUrl: base, userFields: fields, scope } = settings;
  if (scope.groupId !== undefined && (mode === 'full' || sends === 'snapshot'))
    return groupMembersUrl(base, scope.groupId, fields, undefined, { filter: scope.filter });
  if (mode === 'full' || (sends === 'snapshot' && linkTaken))
    return usersUrl(base, fields, undefined, { filter: scope.filter, advanced: scope.advancedFilter });
  return usersDeltaUrl(base, fields);
}

/** The Graph pages from `url` (a start URL, a saved page link or a delta link) to the end of the walk. */
export function readPagesFrom(
  runtime: SyncRuntime,
  url: string,
  abortSignal: AbortSignal | undefined,
  fields: readonly string[] = runtime.settings.userFields,
): AsyncGenerator<FetchedUsersPage, void, undefined> {
  const { settings } = runtime;
  return readUserPages({
    baseUrl: settings.graphBaseUrl,
    fields,
    adminConsentUrl: adminConsentUrl(settings),
    credential: runtime.graphCredential,
    budgets: runtime.budget,
    attemptTimeoutMs: settings.graphRequestTimeoutMs,
    startUrl: url,
    ...(abortSignal === undefined ? {} : { abortSignal }),
  });
}

/** The member ids of SYNC_GROUP_ID now (nested groups included), lowercase. */
export async function readMemberIds(runtime: SyncRuntime, groupId: string, abortSignal: AbortSignal | undefined): Promise<Set<string>> {
  const ids = new Set<string>();
  for await (const page of readPagesFrom(runtime, groupMembersUrl(runtime.settings.graphBaseUrl, groupId, ['id']), abortSignal, ['id'])) {
    for (const entry of page.entries) if (entry.kind === 'user') ids.add(entry.user.id.toLowerCase());
  }
  return ids;
}

/** A delta link for now, without reading any user. */
export async function latestDeltaLink(runtime: SyncRuntime, abortSignal: AbortSignal | undefined): Promise<string | undefined> {
  let link: string | undefined;
  for await (const page of readPagesFrom(runtime, latestDeltaUrl(runtime.settings.graphBaseUrl, runtime.settings.userFields), abortSignal))
    link = page.deltaLink ?? link;
  return link;
}

/** The records of users given by id, 15 per request (Graph's limit); users no longer there are left out. */
export async function* readUsersById(
  runtime: SyncRuntime,
  ids: readonly string[],
  abortSignal: AbortSignal | undefined,
): AsyncGenerator<FetchedUsersPage, void, undefined> {
  for (let start = 0; start < ids.length; start += maxIdsPerRequest) {
    yield* readPagesFrom(
      runtime,
      usersByIdUrl(runtime.settings.graphBaseUrl, runtime.settings.userFields, ids.slice(start, start + maxIdsPerRequest)),
      abortSignal,
    );
  }
}

export function adminConsentUrl(settings: Pick<SyncSettings, 'authorityHost' | 'tenantId' | 'clientId'>): string {
  return `${settings.authorityHost}/${encodeURIComponent(settings.tenantId)}/adminconsent?client_id=${encodeURIComponent(settings.clientId)}`;
}
