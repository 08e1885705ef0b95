/**
 * The names of the app settings this project reads, and their defaults. Re-exported by
 * shared/settings/settings.ts, which is where the rest of the code imports them from.
 */

export const SettingNames = {
  tenantId: 'GRAPH_TENANT_ID',
  clientId: 'GRAPH_CLIENT_ID',
  graphCredential: 'GRAPH_CREDENTIAL',
  keyVaultUrl: 'KEY_VAULT_URL',
  clientSecretName: 'GRAPH_CLIENT_SECRET_NAME',
  certificateName: 'GRAPH_CERTIFICATE_NAME',
  federatedAudience: 'GRAPH_FEDERATED_AUDIENCE',
  authorityHost: 'AUTHORITY_HOST',
  graphBaseUrl: 'GRAPH_BASE_URL',
  userFields: 'USER_FIELDS',
  schedule: 'SYNC_SCHEDULE',
  queueName: 'USERS_QUEUE_NAME',
  messageEncoding: 'USERS_QUEUE_MESSAGE_ENCODING',
  sendConcurrency: 'QUEUE_SEND_CONCURRENCY',
  managedIdentityClientId: 'AZURE_CLIENT_ID',
  /** Seconds; read into SyncSettings.graphRequestTimeoutMs. */
  graphRequestTimeoutSeconds: 'GRAPH_REQUEST_TIMEOUT_SECONDS',
  /** Seconds; read into SyncSettings.retryBudgetMs. */
  retryBudgetSeconds: 'SYNC_RETRY_BUDGET_SECONDS',
  stateContainer: 'SYNC_STATE_CONTAINER',
  overflowContainer: 'USERS_OVERFLOW_CONTAINER',
  allowedHosts: 'SYNC_ALLOWED_HOSTS',
  syncMode: 'SYNC_MODE',
  maxRemovals: 'SYNC_MAX_REMOVALS',
  allowRemovals: 'SYNC_ALLOW_REMOVALS',
  groupId: 'SYNC_GROUP_ID',
  userFilter: 'USER_FILTER',
  parallelReads: 'GRAPH_PARALLEL_READS',
  storage: 'AzureWebJobsStorage',
  storageQueueServiceUri: 'AzureWebJobsStorage__queueServiceUri',
  storageBlobServiceUri: 'AzureWebJobsStorage__blobServiceUri',
  storageAccountName: 'AzureWebJobsStorage__accountName',
  storageCredential: 'AzureWebJobsStorage__credential',
  storageClientId: 'AzureWebJobsStorage__clientId',
} as const;

/** Every environment variable this module reads (the infra drift test compares Bicep with this). */
export const allSettingNames: readonly string[] = Object.values(SettingNames);

/** Defaults, in the unit and form of the app setting itself (seconds, comma-separated text). */
export const SettingDefaults = {
  graphCredential: 'secret',
  clientSecretName: 'graph-client-secret',
  authorityHost: 'https://login.microsoftonline.com',
  graphBaseUrl: 'https://graph.microsoft.com',
  userFields: 'id,displayName,mail,userPrincipalName,accountEnabled',
  schedule: '0 0 6 * * *',
  queueName: 'users',
  messageEncoding: 'base64',
  sendConcurrency: 32,
  /** Graph's own gateway gives up on a request after about 100 s. */
  graphRequestTimeoutSeconds: 100,
  retryBudgetSeconds: 600,
  stateContainer: 'sync-state',
  overflowContainer: 'users-overflow',
  /** No extra hosts: only Microsoft's clouds and loopback. */
  allowedHosts: '',
  syncMode: 'delta',
  /** 500 or 5% of the last known total, whichever is less. */
  maxRemovals: '500,5%',
  /** One sequential walk: the fewest Graph requests; large tenants raise it (README, Performance). */
  parallelReads: 1,
} as const;
