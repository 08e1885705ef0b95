import { parseOrigin } from './hosts';
import { SettingDefaults, SettingNames } from './names';
import { checkClientId, show, type SettingsReader } from './values';

/**
 * The storage account: the users queue, and in the same account (same connection, same identity)
 * the blob containers for the run checkpoint and for claim-check messages. Read the way the
 * Functions host reads a connection named AzureWebJobsStorage. A connection string is never shown
 * in a problem (it may carry an account key), and endpoints derived from it never carry a key.
 */
export type StorageConnection =
  | {
      readonly kind: 'connectionString';
      readonly connectionString: string;
      /** The queue endpoint the connection string resolves to (no key), for error messages. */
      readonly queueEndpoint: string;
      /** The blob endpoint the connection string resolves to (no key): run state and claim-check blobs. */
      readonly blobEndpoint: string;
      readonly settingName: string;
    }
  | {
      readonly kind: 'identity';
      readonly queueServiceUri: string;
      /** From AzureWebJobsStorage__blobServiceUri, or derived from __accountName. */
      readonly blobServiceUri: string;
      /** `managedidentity` (as in Azure) or undefined: DefaultAzureCredential (a developer's login). */
      readonly credential: 'managedidentity' | undefined;
      readonly clientId: string | undefined;
      /** The setting the queue endpoint came from (__queueServiceUri or __accountName). */
      readonly settingName: string;
    };

/**
 * Why `value` is not a valid queue or blob container name (the same rules: 3-63 characters,
 * lowercase letters, digits and single dashes, starting and ending with a letter or digit), or
 * undefined when it is one.
 */
export function azureNameProblem(value: string): string | undefined {
  if (value.length < 3) return 'too short';
  if (value.length > 63) return `too long: ${value.length} characters`;
  if (/[A-Z]/.test(value)) return 'it has uppercase letters';
  if (/[^a-z0-9-]/.test(value)) return 'it has characters other than lowercase letters, digits and dashes';
  if (value.startsWith('-') || value.endsWith('-')) return 'it starts or ends with a dash';
  if (value.includes('--')) return 'it has two dashes in a row';
  return undefined;
}

const nameRules = '3-63 lowercase letters, digits and single dashes, starting and ending with a letter or digit';

export function readQueueName(reader: SettingsReader): string {
  const name = SettingNames.queueName;
  const value = reader.get(name) ?? SettingDefaults.queueName;
  const problem = azureNameProblem(value);
  if (problem !== undefined)
    reader.problems.push(`${name} ${show(value)} is not a valid queue name (${problem}): use ${nameRules}, e.g. ${name}=${SettingDefaults.queueName}`);
  return value;
}

/**
 * A blob container name. `azure-webjobs-*` containers belong to the Functions host (timer locks,
 * keys) in this same account and are refused; so is a container already used for `other`.
 */
export function readContainerName(reader: SettingsReader, name: string, fallback: string, other?: { name: string; value: string }): string {
  const value = reader.get(name) ?? fallback;
  const problem = azureNameProblem(value);
  if (problem !== undefined) {
    reader.problems.push(`${name} ${show(value)} is not a valid blob container name (${problem}): use ${nameRules}, e.g. ${name}=${fallback}`);
  } else if (value.startsWith('azure-webjobs-')) {
    reader.problems.push(
      `${name} ${show(value)} is a container of the Functions host itself (azure-webjobs-*), in the same storage account: use another name, e.g. ${name}=${fallback}`,
    );
  } else if (other !== undefined && value === other.value) {
    reader.problems.push(
      `${name} ${show(value)} is the container ${other.name} already uses: claim-check blobs and the run checkpoint need containers of their own, e.g. ${name}=${fallback}`,
    );
  }
  return value;
}

/** The storage connection: AzureWebJobsStorage as a connection string, or its identity-based __ properties (as the Functions host reads them). */
export function readStorage(reader: SettingsReader): StorageConnection | undefined {
  const connectionString = reader.get(SettingNames.storage);
  return connectionString !== undefined ? readConnectionString(reader, connectionString) : readIdentityConnection(reader);
}

function readConnectionString(reader: SettingsReader, connectionString: string): StorageConnection | undefined {
  const { problems } = reader;
  // The Functions host reads a connection named AzureWebJobsStorage as a connection string when that
  // setting has a value, and ignores its __ properties then: both set is a mistake, never a choice.
  const identityParts = [
    SettingNames.storageQueueServiceUri,
    SettingNames.storageBlobServiceUri,
    SettingNames.storageAccountName,
    SettingNames.storageCredential,
    SettingNames.storageClientId,
  ].filter((name) => reader.get(name) !== undefined);
  if (identityParts.length > 0) {
    problems.push(
      `${SettingNames.storage} (a connection string) and ${identityParts.join(', ')} (an identity-based connection) are both set; the connection string would win and the others be ignored, as the Functions host does. ` +
        `Keep one: remove ${identityParts.join(', ')} to use the connection string (e.g. UseDevelopmentStorage=true for Azurite), or remove ${SettingNames.storage} to use the identity-based connection.`,
    );
    return undefined;
  }
  const queueEndpoint = queueEndpointOf(connectionString);
  if (queueEndpoint === undefined) {
    // Never echo the value: a connection string may carry an account key.
    problems.push(
      `${SettingNames.storage} is not a storage connection string with a queue endpoint (it is not shown: it may hold a key); ` +
        `e.g. ${SettingNames.storage}=UseDevelopmentStorage=true for Azurite, ` +
        `"DefaultEndpointsProtocol=https;AccountName=<account>;AccountKey=<key>;EndpointSuffix=core.windows.net", ` +
        `or leave it empty and set ${SettingNames.storageQueueServiceUri}=https://<account>.queue.core.windows.net with ${SettingNames.storageCredential}=managedidentity`,
    );
    return undefined;
  }
  const blobEndpoint = blobEndpointOf(connectionString);
  if (blobEndpoint === undefined) {
    const given = parseConnectionString(connectionString).has('blobendpoint');
    problems.push(
      `${SettingNames.storage} has ${given ? 'a BlobEndpoint that is not a usable URL' : 'a QueueEndpoint but no BlobEndpoint (and no AccountName to derive one)'}: ` +
        `a BlobEndpoint is needed for the run state (${SettingNames.stateContainer}) and claim-check blobs (${SettingNames.overflowContainer}), in the queue's account. ` +
        `Add BlobEndpoint=https://<account>.blob.core.windows.net, e.g. ${SettingNames.storage}=BlobEndpoint=https://<account>.blob.core.windows.net;QueueEndpoint=https://<account>.queue.core.windows.net;SharedAccessSignature=<sas>`,
    );
    return undefined;
  }
  return { kind: 'connectionString', connectionString, queueEndpoint, blobEndpoint, settingName: SettingNames.storage };
}

function readIdentityConnection(reader: SettingsReader): StorageConnection | undefined {
  const { problems } = reader;
  const credential = reader.get(SettingNames.storageCredential);
  if (credential !== undefined && credential.toLowerCase() !== 'managedidentity') {
    problems.push(
      `${SettingNames.storageCredential} ${show(credential)} is not supported; the only value is managedidentity, e.g. ${SettingNames.storageCredential}=managedidentity`,
    );
  }
  const clientId = reader.get(SettingNames.storageClientId);
  if (clientId !== undefined) checkClientId(SettingNames.storageClientId, clientId, 'the client ID of the user-assigned managed identity', problems);
  const common = { credential: credential === undefined ? undefined : ('managedidentity' as const), clientId };

  const queueText = reader.get(SettingNames.storageQueueServiceUri);
  const blobText = reader.get(SettingNames.storageBlobServiceUri);
  const accountText = reader.get(SettingNames.storageAccountName);
  if (queueText === undefined && blobText === undefined && accountText === undefined) {
    problems.push(
      `${SettingNames.storage} is missing: the storage connection for the queue, e.g. ${SettingNames.storage}=UseDevelopmentStorage=true (Azurite), ` +
        `or ${SettingNames.storageQueueServiceUri}=https://<account>.queue.core.windows.net with ${SettingNames.storageCredential}=managedidentity`,
    );
    return undefined;
  }

  const account = readAccountName(reader, queueText, blobText, accountText);
  if (account === null) return undefined;
  const queueServiceUri = readQueueServiceUri(reader, queueText, account);
  const blobServiceUri = readBlobServiceUri(reader, blobText, account, queueServiceUri);
  if (!sameAccount(reader, queueServiceUri, blobServiceUri, blobText)) return undefined;
  if (queueServiceUri === undefined || blobServiceUri === undefined) return undefined;
  const settingName = queueText !== undefined ? SettingNames.storageQueueServiceUri : SettingNames.storageAccountName;
  return { kind: 'identity', queueServiceUri, blobServiceUri, settingName, ...common };
}

/** __accountName, only read when a service URI is not given, as the Functions host does; null when it is not a valid name (reported). */
function readAccountName(
  reader: SettingsReader,
  queueText: string | undefined,
  blobText: string | undefined,
  accountText: string | undefined,
): string | undefined | null {
  const { problems } = reader;
  if (accountText !== undefined && (queueText === undefined || blobText === undefined)) {
    if (/^[a-z0-9]{3,24}$/.test(accountText)) {
      return accountText;
    } else {
      problems.push(
        `${SettingNames.storageAccountName} ${show(accountText)} is not a storage account name (3-24 lowercase letters and digits), e.g. ${SettingNames.storageAccountName}=mystorageaccount`,
      );
      return null;
    }
  }

  return undefined;
}

function readQueueServiceUri(reader: SettingsReader, queueText: string | undefined, account: string | undefined): string | undefined {
  const { problems } = reader;
  let queueServiceUri: string | undefined;
  if (queueText !== undefined) {
    queueServiceUri = parseOrigin(queueText, SettingNames.storageQueueServiceUri, 'https://mystorageaccount.queue.core.windows.net', problems);
  } else if (account !== undefined) {
    queueServiceUri = `https://${account}.queue.core.windows.net`;
  } else {
    problems.push(
      `${SettingNames.storageQueueServiceUri} is missing: ${SettingNames.storageBlobServiceUri} is set but the queue needs its endpoint too (same account), ` +
        `e.g. ${SettingNames.storageQueueServiceUri}=https://<account>.queue.core.windows.net, or set ${SettingNames.storageAccountName} instead of both`,
    );
  }

  return queueServiceUri;
}

function readBlobServiceUri(
  reader: SettingsReader,
  blobText: string | undefined,
  account: string | undefined,
  queueServiceUri: string | undefined,
): string | undefined {
  const { problems } = reader;
  let blobServiceUri: string | undefined;
  if (blobText !== undefined) {
    blobServiceUri = parseOrigin(blobText, SettingNames.storageBlobServiceUri, 'https://mystorageaccount.blob.core.windows.net', problems);
  } else if (account !== undefined) {
    blobServiceUri = `https://${account}.blob.core.windows.net`;
  } else {
    const sibling = queueServiceUri === undefined ? undefined : /^https:\/\/([a-z0-9]+)\.queue\.(.+)$/.exec(queueServiceUri);
    problems.push(
      `${SettingNames.storageBlobServiceUri} is missing: ${SettingNames.storageQueueServiceUri} is set, and the run state (${SettingNames.stateContainer}) and claim-check blobs (${SettingNames.overflowContainer}) ` +
        `use the blob endpoint of the same account, e.g. ${SettingNames.storageBlobServiceUri}=https://<account>.blob.core.windows.net` +
        (sibling === null || sibling === undefined ? '' : ` (for this queue: https://${sibling[1] ?? ''}.blob.${sibling[2] ?? ''})`),
    );
  }

  return blobServiceUri;
}

/** A blob endpoint given beside the queue's must be in the queue's account; false when it is not (reported). */
function sameAccount(reader: SettingsReader, queueServiceUri: string | undefined, blobServiceUri: string | undefined, blobText: string | undefined): boolean {
  const { problems } = reader;
  if (queueServiceUri !== undefined && blobServiceUri !== undefined && blobText !== undefined) {
    const queue = /^https:\/\/([a-z0-9]+)\.queue\.(.+)$/.exec(queueServiceUri);
    const blob = /^https:\/\/([a-z0-9]+)\.blob\.(.+)$/.exec(blobServiceUri);
    if (queue !== null && blob !== null && (queue[1] !== blob[1] || queue[2] !== blob[2])) {
      problems.push(
        `${SettingNames.storageBlobServiceUri} ${show(blobServiceUri)} is not in the queue's storage account (${queueServiceUri}): the run state and claim-check blobs must be in the same account, ` +
          `e.g. ${SettingNames.storageBlobServiceUri}=https://${queue[1] ?? ''}.blob.${queue[2] ?? ''}`,
      );
      return false;
    }
  }

  return true;
}

/** The parts of a connection string, keys lowercased. */
function parseConnectionString(connectionString: string): Map<string, string> {
  const parts = new Map<string, string>();
  for (const pair of connectionString.split(';')) {
    const at = pair.indexOf('=');
    if (at > 0) parts.set(pair.slice(0, at).trim().toLowerCase(), pair.slice(at + 1).trim());
  }
  return parts;
}

function endpointOf(connectionString: string, service: 'queue' | 'blob'): string | undefined {
  const parts = parseConnectionString(connectionString);
  if (parts.get('usedevelopmentstorage')?.toLowerCase() === 'true') {
    const proxy = parts.get('developmentstorageproxyuri') ?? 'http://127.0.0.1';
    return `${proxy.replace(/\/+$/, '')}:${service === 'queue' ? 10001 : 10000}/devstoreaccount1`;
  }
  const hasCredential = parts.has('accountkey') || parts.has('sharedaccesssignature');
  if (!hasCredential) return undefined;
  const explicit = parts.get(`${service}endpoint`);
  if (explicit !== undefined) {
    try {
      const url = new URL(explicit);
      // Storage takes no user info; an endpoint with some is refused rather than shown in messages.
      if (url.username !== '' || url.password !== '' || (url.protocol !== 'https:' && url.protocol !== 'http:')) return undefined;
      return url.toString().replace(/\/+$/, '');
    } catch {
      return undefined;
    }
  }
  const account = parts.get('accountname');
  if (account === undefined) return undefined;
  const protocol = parts.get('defaultendpointsprotocol') ?? 'https';
  const suffix = parts.get('endpointsuffix') ?? 'core.windows.net';
  return `${protocol}://${account}.${service}.${suffix}`;
}

/** The queue endpoint a connection string points at, or undefined if it has none. Keys are never returned. */
export function queueEndpointOf(connectionString: string): string | undefined {
  return endpointOf(connectionString, 'queue');
}

/**
 * The blob endpoint a connection string points at (BlobEndpoint=, else derived from AccountName,
 * EndpointSuffix and DefaultEndpointsProtocol; Azurite's for UseDevelopmentStorage=true), or
 * undefined if it has none. Keys are never returned.
 */
export function blobEndpointOf(connectionString: string): string | undefined {
  return endpointOf(connectionString, 'blob');
}
