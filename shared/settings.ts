import { Cron } from 'croner';
import { SyncError, SyncErrorCodes } from './errors';

/**
 * Settings are read and validated here, once, and nowhere else: every other module receives what
 * it needs as parameters. All problems are collected and reported together, each naming the
 * setting and showing a valid value.
 */

export const SettingNames = {
  tenantId: 'GRAPH_TENANT_ID',
  clientId: 'GRAPH_CLIENT_ID',
  keyVaultUrl: 'KEY_VAULT_URL',
  clientSecretName: 'GRAPH_CLIENT_SECRET_NAME',
  authorityHost: 'AUTHORITY_HOST',
  graphBaseUrl: 'GRAPH_BASE_URL',
  userFields: 'USER_FIELDS',
  schedule: 'SYNC_SCHEDULE',
  queueName: 'USERS_QUEUE_NAME',
  messageEncoding: 'USERS_QUEUE_MESSAGE_ENCODING',
  sendConcurrency: 'QUEUE_SEND_CONCURRENCY',
  managedIdentityClientId: 'AZURE_CLIENT_ID',
  storage: 'AzureWebJobsStorage',
  storageQueueServiceUri: 'AzureWebJobsStorage__queueServiceUri',
  storageAccountName: 'AzureWebJobsStorage__accountName',
  storageCredential: 'AzureWebJobsStorage__credential',
  storageClientId: 'AzureWebJobsStorage__clientId',
} as const;

/** Every environment variable this module reads (the infra drift test compares Bicep with this). */
export const allSettingNames: readonly string[] = Object.values(SettingNames);

export const SettingDefaults = {
  clientSecretName: 'graph-client-secret',
  authorityHost: 'https://login.microsoftonline.com',
  graphBaseUrl: 'https://graph.microsoft.com',
  userFields: 'id,displayName,mail,userPrincipalName,accountEnabled',
  schedule: '0 0 6 * * *',
  queueName: 'users',
  messageEncoding: 'base64',
  sendConcurrency: 32,
} as const;

export type MessageEncoding = 'base64' | 'none';

/** How the queue is reached, mirroring how the Functions host reads a connection named AzureWebJobsStorage. */
export type StorageConnection =
  | {
      readonly kind: 'connectionString';
      readonly connectionString: string;
      /** The queue endpoint the connection string resolves to (no key), for error messages. */
      readonly queueEndpoint: string;
      readonly settingName: string;
    }
  | {
      readonly kind: 'identity';
      readonly queueServiceUri: string;
      /** `managedidentity` (as in Azure) or undefined: DefaultAzureCredential (a developer's login). */
      readonly credential: 'managedidentity' | undefined;
      readonly clientId: string | undefined;
      readonly settingName: string;
    };

export interface SyncSettings {
  readonly tenantId: string;
  readonly clientId: string;
  readonly keyVaultUrl: string;
  readonly clientSecretName: string;
  /** Without trailing slash. */
  readonly authorityHost: string;
  /** Without trailing slash. */
  readonly graphBaseUrl: string;
  /** Graph user properties to select; always contains `id`, first. */
  readonly userFields: readonly string[];
  readonly schedule: string;
  readonly queueName: string;
  readonly messageEncoding: MessageEncoding;
  readonly sendConcurrency: number;
  /** AZURE_CLIENT_ID: the user-assigned managed identity to use for Key Vault, if any. */
  readonly managedIdentityClientId: string | undefined;
  readonly storage: StorageConnection;
}

export type SettingsSource = Readonly<Record<string, string | undefined>>;

export class SettingsError extends SyncError {
  override readonly name = 'SettingsError';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(
      SyncErrorCodes.settingsInvalid,
      `Invalid app settings (${problems.length}); fix them in local.settings.json (locally) or the Function App's app settings (in Azure):\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
      { details: { count: problems.length } },
    );
    this.problems = problems;
  }
}

const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const domainPattern = /^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const secretNamePattern = /^[0-9a-zA-Z-]{1,127}$/;
const queueNamePattern = /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const propertyPattern = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const exampleGuid = '11111111-2222-3333-4444-555555555555';

export function readSettings(env: SettingsSource): SyncSettings {
  const problems: string[] = [];
  const get = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const required = (name: string, example: string, meaning: string): string | undefined => {
    const value = get(name);
    if (value === undefined) problems.push(`${name} is missing: ${meaning}, e.g. ${name}=${example}`);
    return value;
  };

  const tenantId = required(SettingNames.tenantId, exampleGuid, 'the directory (tenant) ID or a verified domain');
  if (tenantId !== undefined && !guidPattern.test(tenantId) && !domainPattern.test(tenantId)) {
    problems.push(
      `${SettingNames.tenantId} "${tenantId}" is neither a GUID nor a domain name` +
        (/^(common|organizations|consumers)$/i.test(tenantId) ? ' (app-only tokens need a specific tenant, not a multi-tenant alias)' : '') +
        `, e.g. ${SettingNames.tenantId}=${exampleGuid} or contoso.onmicrosoft.com`,
    );
  }

  const clientId = required(SettingNames.clientId, exampleGuid, "the app registration's application (client) ID");
  if (clientId !== undefined && !guidPattern.test(clientId)) {
    problems.push(`${SettingNames.clientId} "${clientId}" is not a GUID, e.g. ${SettingNames.clientId}=${exampleGuid}`);
  }

  const keyVaultUrl = required(SettingNames.keyVaultUrl, 'https://my-vault.vault.azure.net/', 'the URL of the Key Vault holding the client secret');
  const vault = keyVaultUrl === undefined ? undefined : parseOrigin(keyVaultUrl, SettingNames.keyVaultUrl, 'https://my-vault.vault.azure.net/', problems);

  const clientSecretName = get(SettingNames.clientSecretName) ?? SettingDefaults.clientSecretName;
  if (!secretNamePattern.test(clientSecretName)) {
    problems.push(
      `${SettingNames.clientSecretName} "${clientSecretName}" is not a Key Vault secret name (1-127 letters, digits and dashes), e.g. ${SettingNames.clientSecretName}=${SettingDefaults.clientSecretName}`,
    );
  }

  const authorityHost = parseOrigin(get(SettingNames.authorityHost) ?? SettingDefaults.authorityHost, SettingNames.authorityHost, SettingDefaults.authorityHost, problems);
  const graphBaseUrl = parseOrigin(get(SettingNames.graphBaseUrl) ?? SettingDefaults.graphBaseUrl, SettingNames.graphBaseUrl, SettingDefaults.graphBaseUrl, problems);

  const userFields = parseUserFields(get(SettingNames.userFields) ?? SettingDefaults.userFields, problems);

  const schedule = get(SettingNames.schedule) ?? SettingDefaults.schedule;
  checkSchedule(schedule, problems);

  const queueName = get(SettingNames.queueName) ?? SettingDefaults.queueName;
  if (!queueNamePattern.test(queueName)) {
    problems.push(
      `${SettingNames.queueName} "${queueName}" is not a valid queue name (3-63 lowercase letters, digits and single dashes, starting and ending with a letter or digit), e.g. ${SettingNames.queueName}=${SettingDefaults.queueName}`,
    );
  }

  const encoding = (get(SettingNames.messageEncoding) ?? SettingDefaults.messageEncoding).toLowerCase();
  if (encoding !== 'base64' && encoding !== 'none') {
    problems.push(`${SettingNames.messageEncoding} "${encoding}" must be base64 (what a queue-triggered Function expects by default) or none, e.g. ${SettingNames.messageEncoding}=base64`);
  }

  const concurrencyText = get(SettingNames.sendConcurrency);
  const sendConcurrency = concurrencyText === undefined ? SettingDefaults.sendConcurrency : Number(concurrencyText);
  if (!Number.isInteger(sendConcurrency) || sendConcurrency < 1 || sendConcurrency > 256) {
    problems.push(`${SettingNames.sendConcurrency} "${concurrencyText ?? ''}" must be a whole number from 1 to 256, e.g. ${SettingNames.sendConcurrency}=${SettingDefaults.sendConcurrency}`);
  }

  const managedIdentityClientId = get(SettingNames.managedIdentityClientId);
  if (managedIdentityClientId !== undefined && !guidPattern.test(managedIdentityClientId)) {
    problems.push(`${SettingNames.managedIdentityClientId} "${managedIdentityClientId}" must be the client ID (a GUID) of the user-assigned managed identity, e.g. ${SettingNames.managedIdentityClientId}=${exampleGuid}`);
  }

  const storage = readStorage(get, problems);

  if (problems.length > 0 || tenantId === undefined || clientId === undefined || vault === undefined || authorityHost === undefined || graphBaseUrl === undefined || storage === undefined) {
    throw new SettingsError(problems);
  }

  return {
    tenantId,
    clientId,
    keyVaultUrl: vault,
    clientSecretName,
    authorityHost,
    graphBaseUrl,
    userFields,
    schedule,
    queueName,
    messageEncoding: encoding as MessageEncoding,
    sendConcurrency,
    managedIdentityClientId,
    storage,
  };
}

/** An https origin without path, returned without trailing slash (or with one for the vault URL, as the SDK shows it). */
function parseOrigin(value: string, name: string, example: string, problems: string[]): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(`${name} "${value}" is not a URL, e.g. ${name}=${example}`);
    return undefined;
  }
  if (url.protocol !== 'https:') {
    problems.push(`${name} "${value}" must use https, e.g. ${name}=${example}`);
    return undefined;
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    problems.push(`${name} "${value}" must be just scheme and host, without a path, e.g. ${name}=${example}`);
    return undefined;
  }
  return `${url.protocol}//${url.host}`;
}

function parseUserFields(value: string, problems: string[]): readonly string[] {
  const fields = value
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f !== '');
  const bad = fields.filter((f) => !propertyPattern.test(f));
  if (bad.length > 0 || fields.length === 0) {
    problems.push(
      `${SettingNames.userFields} "${value}" must be a comma-separated list of Graph user property names` +
        (bad.length > 0 ? ` (not valid: ${bad.map((b) => `"${b}"`).join(', ')})` : '') +
        `, e.g. ${SettingNames.userFields}=${SettingDefaults.userFields}`,
    );
  }
  // `id` is what the downstream keys on: always selected, always first; duplicates dropped.
  const unique = [...new Set(fields.filter((f) => propertyPattern.test(f) && f !== 'id'))];
  return ['id', ...unique];
}

function checkSchedule(schedule: string, problems: string[]): void {
  const fields = schedule.split(/\s+/).filter((f) => f !== '');
  const hint = `six-field NCRONTAB in UTC: {second} {minute} {hour} {day} {month} {day-of-week}, e.g. ${SettingNames.schedule}=${SettingDefaults.schedule}`;
  if (fields.length !== 6) {
    problems.push(`${SettingNames.schedule} "${schedule}" has ${fields.length} fields; it must be ${hint}` + (fields.length === 5 ? ' (prefix a 0 for the seconds field)' : ''));
    return;
  }
  try {
    new Cron(schedule, { paused: true, timezone: 'UTC' }).stop();
  } catch (error) {
    problems.push(`${SettingNames.schedule} "${schedule}" is not valid (${error instanceof Error ? error.message : String(error)}); it must be ${hint}`);
  }
}

function readStorage(get: (name: string) => string | undefined, problems: string[]): StorageConnection | undefined {
  const connectionString = get(SettingNames.storage);
  if (connectionString !== undefined) {
    const queueEndpoint = queueEndpointOf(connectionString);
    if (queueEndpoint === undefined) {
      // Never echo the value: a connection string may carry an account key.
      problems.push(
        `${SettingNames.storage} is not a storage connection string with a queue endpoint; use UseDevelopmentStorage=true for Azurite, ` +
          `"DefaultEndpointsProtocol=https;AccountName=<account>;AccountKey=<key>;EndpointSuffix=core.windows.net", ` +
          `or leave it empty and set ${SettingNames.storageQueueServiceUri}=https://<account>.queue.core.windows.net with ${SettingNames.storageCredential}=managedidentity`,
      );
      return undefined;
    }
    return { kind: 'connectionString', connectionString, queueEndpoint, settingName: SettingNames.storage };
  }

  const credential = get(SettingNames.storageCredential);
  if (credential !== undefined && credential.toLowerCase() !== 'managedidentity') {
    problems.push(`${SettingNames.storageCredential} "${credential}" is not supported; the only value is managedidentity, e.g. ${SettingNames.storageCredential}=managedidentity`);
  }
  const clientId = get(SettingNames.storageClientId);
  if (clientId !== undefined && !guidPattern.test(clientId)) {
    problems.push(`${SettingNames.storageClientId} "${clientId}" must be the client ID (a GUID) of the user-assigned managed identity, e.g. ${SettingNames.storageClientId}=${exampleGuid}`);
  }
  const common = { credential: credential === undefined ? undefined : ('managedidentity' as const), clientId };

  const serviceUri = get(SettingNames.storageQueueServiceUri);
  if (serviceUri !== undefined) {
    const origin = parseOrigin(serviceUri, SettingNames.storageQueueServiceUri, 'https://mystorageaccount.queue.core.windows.net', problems);
    return origin === undefined ? undefined : { kind: 'identity', queueServiceUri: origin, settingName: SettingNames.storageQueueServiceUri, ...common };
  }
  const accountName = get(SettingNames.storageAccountName);
  if (accountName !== undefined) {
    if (!/^[a-z0-9]{3,24}$/.test(accountName)) {
      problems.push(`${SettingNames.storageAccountName} "${accountName}" is not a storage account name (3-24 lowercase letters and digits), e.g. ${SettingNames.storageAccountName}=mystorageaccount`);
      return undefined;
    }
    return { kind: 'identity', queueServiceUri: `https://${accountName}.queue.core.windows.net`, settingName: SettingNames.storageAccountName, ...common };
  }

  problems.push(
    `${SettingNames.storage} is missing: the storage connection for the queue, e.g. ${SettingNames.storage}=UseDevelopmentStorage=true (Azurite), ` +
      `or ${SettingNames.storageQueueServiceUri}=https://<account>.queue.core.windows.net with ${SettingNames.storageCredential}=managedidentity`,
  );
  return undefined;
}

/** The queue endpoint a connection string points at, or undefined if it has none. Keys are never returned. */
export function queueEndpointOf(connectionString: string): string | undefined {
  const parts = new Map<string, string>();
  for (const pair of connectionString.split(';')) {
    const at = pair.indexOf('=');
    if (at > 0) parts.set(pair.slice(0, at).trim().toLowerCase(), pair.slice(at + 1).trim());
  }
  if (parts.get('usedevelopmentstorage')?.toLowerCase() === 'true') {
    const proxy = parts.get('developmentstorageproxyuri') ?? 'http://127.0.0.1';
    return `${proxy.replace(/\/+$/, '')}:10001/devstoreaccount1`;
  }
  const hasCredential = parts.has('accountkey') || parts.has('sharedaccesssignature');
  if (!hasCredential) return undefined;
  const explicit = parts.get('queueendpoint');
  if (explicit !== undefined) {
    try {
      return new URL(explicit).toString().replace(/\/+$/, '');
    } catch {
      return undefined;
    }
  }
  const account = parts.get('accountname');
  if (account === undefined) return undefined;
  const protocol = parts.get('defaultendpointsprotocol') ?? 'https';
  const suffix = parts.get('endpointsuffix') ?? 'core.windows.net';
  return `${protocol}://${account}.queue.${suffix}`;
}
