import { type ErrorMessages, type MessageParams, SyncError, SyncErrorCodes, type SyncErrorOptions, messageOf } from '../core';

/**
 * The credential family of errors (see core/sync-error.ts for how families work): reading the
 * secret or certificate from Key Vault (key-vault.ts maps Key Vault's answers), a certificate
 * that cannot be used, the managed identity's token, and what a refusal of each mode by Entra ID
 * means once the credential was read again (secret.ts, certificate.ts, managed-identity.ts).
 */

export const CredentialErrorCodes = {
  keyVaultForbidden: SyncErrorCodes.keyVaultForbidden,
  keyVaultSecretNotFound: SyncErrorCodes.keyVaultSecretNotFound,
  keyVaultAuthFailed: SyncErrorCodes.keyVaultAuthFailed,
  keyVaultUnreachable: SyncErrorCodes.keyVaultUnreachable,
  keyVaultSecretEmpty: SyncErrorCodes.keyVaultSecretEmpty,
  certificateNotFound: SyncErrorCodes.certificateNotFound,
  certificateUnusable: SyncErrorCodes.certificateUnusable,
  certificateRejected: SyncErrorCodes.certificateRejected,
  federatedCredentialMismatch: SyncErrorCodes.federatedCredentialMismatch,
  assertionExpired: SyncErrorCodes.assertionExpired,
  managedIdentityFailed: SyncErrorCodes.managedIdentityFailed,
  clientSecretRejected: SyncErrorCodes.clientSecretRejected,
  clientSecretExpired: SyncErrorCodes.clientSecretExpired,
} as const;

export type CredentialErrorCode = (typeof CredentialErrorCodes)[keyof typeof CredentialErrorCodes];

/** A Key Vault object a message names. */
interface VaultObject {
  readonly vaultUrl: string;
  readonly kind: 'secret' | 'certificate';
  readonly name: string;
}

/** A missing object, and the setting that names it. */
interface MissingObject {
  readonly vaultUrl: string;
  readonly name: string;
  readonly nameSetting: string;
}

export type KeyVaultAuthFailedParams =
  | { readonly problem: 'tokenRejected'; readonly vaultUrl: string; readonly causeText: string }
  | { readonly problem: 'noIdentity'; readonly vaultUrl: string; readonly causeText: string }
  | (VaultObject & { readonly problem: 'readFailed'; readonly causeText: string });

/** Why a certificate's latest version cannot be used. */
export type CertificateUnusableReason =
  | { readonly reason: 'disabled'; readonly version: string }
  | { readonly reason: 'expired'; readonly expiresOn: Date }
  | { readonly reason: 'notYetValid'; readonly notBefore: Date }
  | { readonly reason: 'notExportable' }
  | { readonly reason: 'keyMismatch'; readonly version: string };

export type CertificateUnusableParams =
  | { readonly problem: 'noIssuedVersion'; readonly vaultUrl: string; readonly name: string }
  | { readonly problem: 'notUsable'; readonly vaultUrl: string; readonly name: string; readonly nameSetting: string; readonly why: CertificateUnusableReason }
  | { readonly problem: 'unreadableSecret'; readonly contentType: string | undefined; readonly causeText: string };

export interface CertificateRejectedParams {
  readonly name: string;
  readonly clientId: string;
  /** Of the version read, when one was. */
  readonly thumbprints: { readonly sha1: string; readonly sha256: string } | undefined;
}

export interface FederatedMismatchParams {
  /** 70021 (nothing matches), 700211 (the issuer), 700212 (the audience), 700213 (the subject). */
  readonly aadsts: string;
  readonly clientId: string;
  readonly issuer: string;
  readonly subject: string;
  readonly audience: string;
}

const what = (p: VaultObject): string => `${p.kind} "${p.name}"`;

function keyVaultForbidden(p: VaultObject): string {
  const roles =
    p.kind === 'secret'
      ? 'the "Key Vault Secrets User" role'
      : 'the "Key Vault Certificate User" role (it reads the certificate and, as its secret, the private key)';
  return (
    `Key Vault ${p.vaultUrl} refused to read ${what(p)} (403): the Function App's managed identity lacks ${roles} on the vault ` +
    `(assign it, or check AZURE_CLIENT_ID names the identity that has it).`
  );
}

function keyVaultAuthFailed(p: KeyVaultAuthFailedParams): string {
  switch (p.problem) {
    case 'tokenRejected':
      return `Key Vault ${p.vaultUrl} rejected the managed identity's token (401): ${p.causeText}`;
    case 'noIdentity':
      return (
        `No identity could get a token for Key Vault ${p.vaultUrl}: in Azure enable the Function App's managed identity (and set AZURE_CLIENT_ID for a user-assigned one); ` +
        `on a laptop sign in with "az login". Cause: ${p.causeText}`
      );
    case 'readFailed':
      return `Reading Key Vault ${what(p)} from ${p.vaultUrl} failed: ${p.causeText}`;
  }
}

function unusableReason(why: CertificateUnusableReason): string {
  switch (why.reason) {
    case 'disabled':
      return `its latest version (${why.version}) is disabled: enable it, or create a new version`;
    case 'expired':
      return `it expired on ${why.expiresOn.toISOString()}: create a new version in Key Vault and upload its public part (.cer) to the app registration`;
    case 'notYetValid':
      return `it is not valid before ${why.notBefore.toISOString()}`;
    case 'notExportable':
      return (
        `its secret holds no private key: the certificate's key is not exportable. Create the certificate with an exportable key ` +
        `(policy keyProperties.exportable = true, e.g. az keyvault certificate get-default-policy), as a new certificate: exportability cannot be changed on an existing one`
      );
    case 'keyMismatch':
      return `the private key in its secret does not belong to the certificate (version ${why.version})`;
  }
}

function certificateUnusable(p: CertificateUnusableParams): string {
  switch (p.problem) {
    case 'noIssuedVersion':
      return `Key Vault certificate "${p.name}" in ${p.vaultUrl} has no issued version yet (is it still pending?).`;
    case 'notUsable':
      return `Key Vault certificate "${p.name}" in ${p.vaultUrl} (setting ${p.nameSetting}) cannot be used: ${unusableReason(p.why)}.`;
    case 'unreadableSecret':
      return `The certificate's secret is neither PEM nor a PKCS#12 file without password (content type ${p.contentType ?? 'none'}): ${p.causeText}`;
  }
}

function certificateRejected({ name, clientId, thumbprints }: CertificateRejectedParams): string {
  const which = thumbprints === undefined ? '' : ` (SHA-1 thumbprint ${thumbprints.sha1} as the portal shows it, SHA-256 ${thumbprints.sha256})`;
  return (
    `Entra ID refused the assertion signed with Key Vault certificate "${name}" (AADSTS700027), also after reading the certificate again: ` +
    `upload its public part${which} to app registration ${clientId} under Certificates & secrets > Certificates ` +
    `(az keyvault certificate download --vault-name <vault> -n ${name} -f cert.pem, then az ad app credential reset --id ${clientId} --cert @cert.pem --append).`
  );
}

/** What Entra's finer codes say did not match (AADSTS700211/700212/700213). */
const unmatched: Readonly<Record<string, string>> = { '700211': 'its issuer', '700212': 'its audience', '700213': 'its subject' };

function federatedMismatch({ aadsts, clientId, issuer, subject, audience }: FederatedMismatchParams): string {
  const parameters = JSON.stringify({ name: 'graph-user-sync', issuer, subject, audiences: [audience] });
  const what = unmatched[aadsts];
  return (
    `No federated identity credential on app registration ${clientId} matches the managed identity's token (AADSTS${aadsts}${what === undefined ? '' : `: none matches ${what}`}). ` +
    `Add one with issuer ${issuer}, subject ${subject} and audience ${audience} (they are case-sensitive): ` +
    `az ad app federated-credential create --id ${clientId} --parameters '${parameters}'`
  );
}

export const CredentialErrorMessages = {
  [CredentialErrorCodes.keyVaultSecretNotFound]: (p: MissingObject) =>
    `Key Vault ${p.vaultUrl} has no secret named "${p.name}": create it with the client secret value, or set ${p.nameSetting} to the name of the secret that holds it.`,
  [CredentialErrorCodes.certificateNotFound]: (p: MissingObject) =>
    `Key Vault ${p.vaultUrl} has no certificate named "${p.name}": create it (az keyvault certificate create, exportable key), or set ${p.nameSetting} to the name of the certificate.`,
  [CredentialErrorCodes.keyVaultForbidden]: keyVaultForbidden,
  [CredentialErrorCodes.keyVaultAuthFailed]: keyVaultAuthFailed,
  [CredentialErrorCodes.keyVaultUnreachable]: (p: { readonly vaultUrl: string; readonly vaultSetting: string; readonly causeText: string }) =>
    `Could not reach Key Vault at ${p.vaultUrl} (setting ${p.vaultSetting}): ${p.causeText}`,
  [CredentialErrorCodes.keyVaultSecretEmpty]: (p: { readonly vaultUrl: string; readonly secretName: string; readonly nameSetting: string }) =>
    `Key Vault secret "${p.secretName}" in ${p.vaultUrl} is empty: store the app registration's client secret value in it (setting ${p.nameSetting}).`,
  [CredentialErrorCodes.certificateUnusable]: certificateUnusable,
  [CredentialErrorCodes.certificateRejected]: certificateRejected,
  [CredentialErrorCodes.federatedCredentialMismatch]: federatedMismatch,
  [CredentialErrorCodes.assertionExpired]: () =>
    `Entra ID found the client assertion outside its valid time (AADSTS700024), also after making a new one: this machine's clock is probably wrong. ` +
    `Check its time synchronisation (in Azure this does not happen; locally, sync the clock).`,
  /** `causeText` undefined: the identity answered without a token. */
  [CredentialErrorCodes.managedIdentityFailed]: (p: { readonly identityClientId: string; readonly audience: string; readonly causeText: string | undefined }) =>
    `The managed identity ${p.identityClientId} (AZURE_CLIENT_ID) could not get a token for ${p.audience}: ${p.causeText ?? 'no token was returned'}. ` +
    `Assign that user-assigned identity to the Function App, or set AZURE_CLIENT_ID to the client ID of the one it has.`,
  [CredentialErrorCodes.clientSecretExpired]: (p: { readonly secretName: string; readonly vaultUrl: string; readonly clientId: string }) =>
    `The client secret stored in Key Vault secret "${p.secretName}" at ${p.vaultUrl} has expired (AADSTS7000222): Entra ID no longer takes it. ` +
    `Rotate it: create a new secret on app registration ${p.clientId} (az ad app credential reset --id ${p.clientId} --append --years 1, or Certificates & secrets in the portal), ` +
    `store its Value as a new version of "${p.secretName}" (az keyvault secret set --vault-name <vault> --name ${p.secretName} --file <file with the value>), then delete the expired one; ` +
    `the next run reads the new version. To stop rotating, use GRAPH_CREDENTIAL=certificate or managed-identity (docs/credentials.md).`,
  [CredentialErrorCodes.clientSecretRejected]: (p: { readonly secretName: string; readonly aadsts: string }) =>
    `Entra ID rejected the client secret stored in Key Vault secret "${p.secretName}" (AADSTS${p.aadsts}), also after reading it again. ` +
    `Store the secret's Value (shown once, when the secret is created under Certificates & secrets), not its Secret ID, and check that it has not expired.`,
} satisfies ErrorMessages<CredentialErrorCode>;

/** A SyncError of the credential family, its message from CredentialErrorMessages. */
export function createCredentialError<C extends CredentialErrorCode>(
  code: C,
  params: MessageParams<typeof CredentialErrorMessages, C>,
  options: SyncErrorOptions = {},
): SyncError {
  return new SyncError(code, messageOf(CredentialErrorMessages, code, params), options);
}
