import { createSettingsError, defaultSettingsSource, SettingsErrorCodes } from './errors';
import { parseOrigin, readAllowedHosts } from './hosts';
import { SettingDefaults, SettingNames } from './names';
import { readGraphCredential, type GraphCredentialSettings } from './credential';
import { checkFieldsGraphServes } from './fields';
import { peekSyncMode, readAllowRemovals, readRemovalLimit, readSyncMode, type RemovalLimit, type SyncMode } from './mode';
import { readUserScope, type UserScope } from './scope';
import { readContainerName, readQueueName, readStorage, type StorageConnection } from './storage';
import { checkClientId, checkSchedule, checkTenantId, exampleGuid, parseUserFields, readWholeNumber, show, type SettingsReader } from './values';

/**
 * Settings are read and validated here, once, and nowhere else: every other module receives what
 * it needs as parameters. All problems are collected and reported together, each naming the
 * setting and showing a valid value; a value that may hold a secret (a connection string, a
 * password in a URL) is never shown. The checks live in settings-*.ts by concern; this module is
 * the one the rest of the code imports.
 */

export { SettingDefaults, SettingNames, allSettingNames } from './names';
export { MicrosoftHosts, isLoopbackHost, isMicrosoftHost } from './hosts';
export { federatedAudienceFor, graphCredentialModes, type GraphCredentialMode, type GraphCredentialSettings } from './credential';
export { describeThreshold, parseRemovalLimit, removalThreshold, type RemovalLimit, type SyncMode } from './mode';
export { describeScope, everyUser, needsAdvancedQuery, scopeKey, type UserScope } from './scope';
export { blobEndpointOf, queueEndpointOf, type StorageConnection } from './storage';

export type MessageEncoding = 'base64' | 'none';

export interface SyncSettings {
  readonly tenantId: string;
  readonly clientId: string;
  /** GRAPH_CREDENTIAL and its mode's settings: how the app proves itself to Entra ID. */
  readonly credential: GraphCredentialSettings;
  /** Without trailing slash. */
  readonly authorityHost: string;
  /** Without trailing slash. */
  readonly graphBaseUrl: string;
  /** Graph user properties to select; always contains `id`, first. */
  readonly userFields: readonly string[];
  /**
   * What an operator should know about USER_FIELDS that is not a problem (a property whose
   * changes delta does not track): said as a notice at the start of every run (fields.ts).
   */
  readonly fieldNotices: readonly string[];
  readonly schedule: string;
  readonly queueName: string;
  readonly messageEncoding: MessageEncoding;
  readonly sendConcurrency: number;
  /** AZURE_CLIENT_ID: the user-assigned managed identity to use for Key Vault, if any. */
  readonly managedIdentityClientId: string | undefined;
  /** GRAPH_REQUEST_TIMEOUT_SECONDS in ms: how long one Graph request may take (default 100 s, Graph's own gateway limit). */
  readonly graphRequestTimeoutMs: number;
  /** SYNC_RETRY_BUDGET_SECONDS in ms: the total time one run may spend waiting on retries (default 600 s). */
  readonly retryBudgetMs: number;
  /** SYNC_STATE_CONTAINER: blob container for the run checkpoint, in the queue's storage account. */
  readonly stateContainer: string;
  /** USERS_OVERFLOW_CONTAINER: blob container for messages over the queue's 64 KiB (claim check), same account. */
  readonly overflowContainer: string;
  /** SYNC_ALLOWED_HOSTS: extra hostnames (lowercase, exact match) allowed for AUTHORITY_HOST, GRAPH_BASE_URL and KEY_VAULT_URL. */
  readonly allowedHosts: readonly string[];
  /** SYNC_MODE: delta (default: changes only after a first full run) or full (every user, every run). */
  readonly mode: SyncMode;
  /** SYNC_MAX_REMOVALS: more removals than this in one delta run are held back (default 500 or 5%, the lesser). */
  readonly maxRemovals: RemovalLimit;
  /** SYNC_ALLOW_REMOVALS: lets one held run through with up to this many removals; ignored once used, until changed. */
  readonly allowRemovals: number | undefined;
  /** GRAPH_PARALLEL_READS: full mode without a group reads /users in this many partitions at once (1: one sequential walk). */
  readonly parallelReads: number;
  /** SYNC_GROUP_ID and USER_FILTER: which users are synced (default every user). */
  readonly scope: UserScope;
  readonly storage: StorageConnection;
}

export type SettingsSource = Readonly<Record<string, string | undefined>>;

/** Where the settings were read from, for the error message: say it the way the user would look for it. */
export interface ReadSettingsOptions {
  /**
   * e.g. "the environment", "local.settings.json (--settings)", "the Function App's app settings
   * (local.settings.json under func start)". Default: "the environment variables".
   */
  readonly source?: string;
}

/**
 * Reads and checks every setting. A value that is empty or only whitespace counts as unset: the
 * default applies, or, for a required setting, it is reported missing. Throws one SettingsError
 * listing every problem (at most one per setting) and where the values were read from
 * (`options.source`), or returns the settings.
 */
export function readSettings(env: SettingsSource, options: ReadSettingsOptions = {}): SyncSettings {
  const reader = readerOf(env);
  const { problems } = reader;
  // Read first: the three service URLs below are checked against it.
  const allowedHosts = readAllowedHosts(reader);
  const app = readApp(reader, allowedHosts);
  const sending = readSending(reader);
  const identity = readIdentity(reader, allowedHosts, app.authorityHost);
  const limits = readLimits(reader);
  const run = readRun(reader);
  const storage = readStorage(reader);
  const { tenantId, clientId, authorityHost, graphBaseUrl } = app;
  const { credential } = identity;
  if (
    problems.length > 0 ||
    tenantId === undefined ||
    clientId === undefined ||
    credential === undefined ||
    authorityHost === undefined ||
    graphBaseUrl === undefined ||
    storage === undefined
  ) {
    throw createSettingsError(SettingsErrorCodes.settingsInvalid, { problems, source: options.source ?? defaultSettingsSource });
  }
  return {
    tenantId,
    clientId,
    credential,
    authorityHost,
    graphBaseUrl,
    ...sending,
    managedIdentityClientId: identity.managedIdentityClientId,
    ...limits,
    allowedHosts,
    ...run,
    storage,
  };
}

/** Reads the environment: a value that is empty or only whitespace counts as unset. */
function readerOf(env: SettingsSource): SettingsReader {
  return {
    problems: [],
    get: (name) => {
      const value = env[name]?.trim();
      return value === undefined || value === '' ? undefined : value;
    },
  };
}

/** The app registration and the clouds it lives in: tenant, client id, authority and Graph. */
function readApp(reader: SettingsReader, allowedHosts: readonly string[]) {
  const { problems } = reader;
  const required = (name: string, example: string, meaning: string): string | undefined => {
    const value = reader.get(name);
    if (value === undefined) problems.push(`${name} is missing: ${meaning}, e.g. ${name}=${example}`);
    return value;
  };
  const tenantId = required(SettingNames.tenantId, exampleGuid, 'the directory (tenant) ID or a verified domain');
  if (tenantId !== undefined) checkTenantId(tenantId, problems);

  const clientId = required(SettingNames.clientId, exampleGuid, "the app registration's application (client) ID");
  if (clientId !== undefined) checkClientId(SettingNames.clientId, clientId, "the app registration's application (client) ID", problems);

  const authorityHost = parseOrigin(
    reader.get(SettingNames.authorityHost) ?? SettingDefaults.authorityHost,
    SettingNames.authorityHost,
    SettingDefaults.authorityHost,
    problems,
    { kind: 'authority', allowedHosts },
  );
  const graphBaseUrl = parseOrigin(
    reader.get(SettingNames.graphBaseUrl) ?? SettingDefaults.graphBaseUrl,
    SettingNames.graphBaseUrl,
    SettingDefaults.graphBaseUrl,
    problems,
    { kind: 'graph', allowedHosts },
  );
  return { tenantId, clientId, authorityHost, graphBaseUrl };
}

/** What is read from Graph and how it is sent: fields, schedule, queue, encoding, concurrency. */
function readSending(reader: SettingsReader) {
  const { problems } = reader;
  const fieldsText = reader.get(SettingNames.userFields) ?? SettingDefaults.userFields;
  const fieldsProblems = problems.length;
  const userFields = parseUserFields(fieldsText, problems);
  // What Graph serves to a sync that reads lists, in this SYNC_MODE: at most one problem for the setting.
  const fieldNotices = problems.length === fieldsProblems ? checkFieldsGraphServes(fieldsText, userFields, peekSyncMode(reader), problems) : [];

  const schedule = reader.get(SettingNames.schedule) ?? SettingDefaults.schedule;
  checkSchedule(schedule, problems);

  const queueName = readQueueName(reader);

  const encoding = (reader.get(SettingNames.messageEncoding) ?? SettingDefaults.messageEncoding).toLowerCase();
  if (encoding !== 'base64' && encoding !== 'none') {
    problems.push(
      `${SettingNames.messageEncoding} ${show(encoding)} must be base64 (what a queue-triggered Function expects by default) or none, e.g. ${SettingNames.messageEncoding}=base64`,
    );
  }

  const sendConcurrency = readWholeNumber(reader, SettingNames.sendConcurrency, SettingDefaults.sendConcurrency, 1, 256);
  return { userFields, fieldNotices, schedule, queueName, messageEncoding: encoding as MessageEncoding, sendConcurrency };
}

/** AZURE_CLIENT_ID and the Graph credential (GRAPH_CREDENTIAL and its mode's settings). */
function readIdentity(reader: SettingsReader, allowedHosts: readonly string[], authorityHost: string | undefined) {
  const { problems } = reader;
  const managedIdentityClientId = reader.get(SettingNames.managedIdentityClientId);
  const identityProblems = problems.length;
  if (managedIdentityClientId !== undefined)
    checkClientId(SettingNames.managedIdentityClientId, managedIdentityClientId, 'the client ID of the user-assigned managed identity', problems);
  const credential = readGraphCredential(reader, {
    allowedHosts,
    authorityHost,
    managedIdentityClientId: problems.length === identityProblems ? managedIdentityClientId : undefined,
  });
  return { managedIdentityClientId, credential };
}

/** Timeouts, the retry budget and the run state's containers. */
function readLimits(reader: SettingsReader) {
  const graphRequestTimeoutSeconds = readWholeNumber(
    reader,
    SettingNames.graphRequestTimeoutSeconds,
    SettingDefaults.graphRequestTimeoutSeconds,
    1,
    600,
    'seconds',
  );
  const retryBudgetSeconds = readWholeNumber(reader, SettingNames.retryBudgetSeconds, SettingDefaults.retryBudgetSeconds, 1, 86400, 'seconds');

  const stateContainer = readContainerName(reader, SettingNames.stateContainer, SettingDefaults.stateContainer);
  const overflowContainer = readContainerName(reader, SettingNames.overflowContainer, SettingDefaults.overflowContainer, {
    name: SettingNames.stateContainer,
    value: stateContainer,
  });
  return { graphRequestTimeoutMs: graphRequestTimeoutSeconds * 1000, retryBudgetMs: retryBudgetSeconds * 1000, stateContainer, overflowContainer };
}

/** How a run walks: the sync mode, the removal guard, who is synced, parallel reads. */
function readRun(reader: SettingsReader) {
  const mode = readSyncMode(reader);
  const maxRemovals = readRemovalLimit(reader);
  const allowRemovals = readAllowRemovals(reader);
  const scope = readUserScope(reader, mode);
  const parallelReads = readWholeNumber(reader, SettingNames.parallelReads, SettingDefaults.parallelReads, 1, 16);
  return { mode, maxRemovals, allowRemovals, parallelReads, scope };
}
