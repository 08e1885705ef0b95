import { parseOrigin } from './hosts';
import { SettingDefaults, SettingNames } from './names';
import { show, type SettingsReader } from './values';

/**
 * The settings of the Graph credential (GRAPH_CREDENTIAL and the settings of its mode), read
 * here and re-exported by settings.ts. Each mode names what it needs and refuses what belongs to
 * another mode, so that a half-switched configuration fails at once, saying which to remove.
 */

export const graphCredentialModes = ['secret', 'certificate', 'managed-identity'] as const;
export type GraphCredentialMode = (typeof graphCredentialModes)[number];

export type GraphCredentialSettings =
  /** A client secret, the value of a Key Vault secret. */
  | { readonly mode: 'secret'; readonly keyVaultUrl: string; readonly secretName: string }
  /** A Key Vault certificate (its private key from the secret of the same name). */
  | { readonly mode: 'certificate'; readonly keyVaultUrl: string; readonly certificateName: string }
  /** No secret anywhere: the user-assigned managed identity's token is the client assertion (federated credential). */
  | { readonly mode: 'managed-identity'; readonly audience: string; readonly identityClientId: string };

const secretNamePattern = /^[0-9a-zA-Z-]{1,127}$/;

/** The token-exchange audience of a cloud, from its login host (Microsoft's documented values). */
export function federatedAudienceFor(authorityHost: string): string {
  const host = new URL(authorityHost).hostname.toLowerCase();
  if (host === 'login.microsoftonline.us') return 'api://AzureADTokenExchangeUSGov';
  if (host === 'login.chinacloudapi.cn' || host === 'login.partner.microsoftonline.cn') return 'api://AzureADTokenExchangeChina';
  return 'api://AzureADTokenExchange';
}

interface CredentialContext {
  readonly allowedHosts: readonly string[];
  /** AUTHORITY_HOST as read (undefined when invalid: the audience default is then not derived). */
  readonly authorityHost: string | undefined;
  /** AZURE_CLIENT_ID, already checked as a GUID. */
  readonly managedIdentityClientId: string | undefined;
}

/** GRAPH_CREDENTIAL and the settings of its mode; every problem is pushed to the reader, naming the setting. */
export function readGraphCredential(reader: SettingsReader, context: CredentialContext): GraphCredentialSettings | undefined {
  const mode = readMode(reader);
  if (mode === undefined) return undefined;
  refuseOtherModesSettings(reader, mode);
  if (mode === 'managed-identity') return readManagedIdentity(reader, context);
  const keyVaultUrl = readKeyVaultUrl(reader, mode, context);
  return mode === 'secret' ? readSecretMode(reader, keyVaultUrl) : readCertificateMode(reader, keyVaultUrl);
}

function readMode(reader: SettingsReader): GraphCredentialMode | undefined {
  const modeText = (reader.get(SettingNames.graphCredential) ?? SettingDefaults.graphCredential).toLowerCase();
  const mode = graphCredentialModes.find((m) => m === modeText);
  if (mode === undefined) {
    reader.problems.push(
      `${SettingNames.graphCredential} ${show(modeText)} must be one of ${graphCredentialModes.join(', ')}: ` +
        `secret (a client secret in Key Vault, the default), certificate (a Key Vault certificate) or managed-identity (no secret: the app's managed identity as a federated credential), e.g. ${SettingNames.graphCredential}=certificate`,
    );
  }
  return mode;
}

/** What each mode reads; a setting of another mode is refused, naming the mode it belongs to. */
function refuseOtherModesSettings(reader: SettingsReader, mode: GraphCredentialMode): void {
  const own: Record<GraphCredentialMode, readonly string[]> = {
    secret: [SettingNames.keyVaultUrl, SettingNames.clientSecretName],
    certificate: [SettingNames.keyVaultUrl, SettingNames.certificateName],
    'managed-identity': [SettingNames.federatedAudience],
  };
  const owners = new Map<string, GraphCredentialMode[]>();
  for (const m of graphCredentialModes) for (const name of own[m]) owners.set(name, [...(owners.get(name) ?? []), m]);
  for (const [name, modes] of owners) {
    if (modes.includes(mode) || reader.get(name) === undefined) continue;
    const [first = mode] = modes;
    reader.problems.push(
      `${name} belongs to ${SettingNames.graphCredential}=${modes.join(' or ')}, not ${mode}: remove it (or set ${SettingNames.graphCredential}=${first})`,
    );
  }
}

function readManagedIdentity(reader: SettingsReader, context: CredentialContext): GraphCredentialSettings | undefined {
  const identityClientId = context.managedIdentityClientId;
  if (identityClientId === undefined) {
    reader.problems.push(
      `${SettingNames.managedIdentityClientId} is missing: ${SettingNames.graphCredential}=managed-identity needs the client ID of the Function App's user-assigned managed identity ` +
        `(the one named as subject of the app registration's federated credential), e.g. ${SettingNames.managedIdentityClientId}=11111111-2222-3333-4444-555555555555`,
    );
  }
  const audience =
    reader.get(SettingNames.federatedAudience) ?? (context.authorityHost === undefined ? undefined : federatedAudienceFor(context.authorityHost));
  if (audience !== undefined && !/^api:\/\/[A-Za-z0-9._-]+$/.test(audience)) {
    reader.problems.push(
      `${SettingNames.federatedAudience} ${show(audience)} must be a token-exchange audience such as api://AzureADTokenExchange (the default for AUTHORITY_HOST's cloud)`,
    );
    return undefined;
  }
  return identityClientId === undefined || audience === undefined ? undefined : { mode: 'managed-identity', audience, identityClientId };
}

function readKeyVaultUrl(reader: SettingsReader, mode: 'secret' | 'certificate', context: CredentialContext): string | undefined {
  const vaultExample = 'https://my-vault.vault.azure.net/';
  const vaultText = reader.get(SettingNames.keyVaultUrl);
  if (vaultText === undefined) {
    reader.problems.push(
      `${SettingNames.keyVaultUrl} is missing: the URL of the Key Vault holding the ${mode === 'secret' ? 'client secret' : 'certificate'}, e.g. ${SettingNames.keyVaultUrl}=${vaultExample}`,
    );
    return undefined;
  }
  return parseOrigin(vaultText, SettingNames.keyVaultUrl, vaultExample, reader.problems, { kind: 'keyVault', allowedHosts: context.allowedHosts });
}

function readSecretMode(reader: SettingsReader, keyVaultUrl: string | undefined): GraphCredentialSettings | undefined {
  const secretName = reader.get(SettingNames.clientSecretName) ?? SettingDefaults.clientSecretName;
  if (!secretNamePattern.test(secretName)) {
    reader.problems.push(
      `${SettingNames.clientSecretName} ${show(secretName)} is not a Key Vault secret name (1-127 letters, digits and dashes), e.g. ${SettingNames.clientSecretName}=${SettingDefaults.clientSecretName}`,
    );
    return undefined;
  }
  return keyVaultUrl === undefined ? undefined : { mode: 'secret', keyVaultUrl, secretName };
}

function readCertificateMode(reader: SettingsReader, keyVaultUrl: string | undefined): GraphCredentialSettings | undefined {
  const certificateName = reader.get(SettingNames.certificateName);
  if (certificateName === undefined) {
    reader.problems.push(
      `${SettingNames.certificateName} is missing: ${SettingNames.graphCredential}=certificate needs the name of the Key Vault certificate, e.g. ${SettingNames.certificateName}=graph-sync-cert`,
    );
    return undefined;
  }
  if (!secretNamePattern.test(certificateName)) {
    reader.problems.push(
      `${SettingNames.certificateName} ${show(certificateName)} is not a Key Vault certificate name (1-127 letters, digits and dashes), e.g. ${SettingNames.certificateName}=graph-sync-cert`,
    );
    return undefined;
  }
  return keyVaultUrl === undefined ? undefined : { mode: 'certificate', keyVaultUrl, certificateName };
}
