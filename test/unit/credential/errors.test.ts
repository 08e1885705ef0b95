import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCredentialError, CredentialErrorCodes, CredentialErrorMessages } from '../../../shared/internal';
import { itHasAMessagePerCode, itMakesEachCode, madeWith } from '../../helpers/error-families';

const family = { codes: CredentialErrorCodes, messages: CredentialErrorMessages };
const vaultUrl = 'https://kv-sync.vault.azure.net';

describe('credential errors', () => {
  itHasAMessagePerCode(family);
  itMakesEachCode(family, () => [
    createCredentialError(
      CredentialErrorCodes.keyVaultSecretNotFound,
      { vaultUrl, name: 'graph-client-secret', nameSetting: 'GRAPH_CLIENT_SECRET_NAME' },
      madeWith,
    ),
    createCredentialError(CredentialErrorCodes.certificateNotFound, { vaultUrl, name: 'graph-cert', nameSetting: 'GRAPH_CERTIFICATE_NAME' }, madeWith),
    createCredentialError(CredentialErrorCodes.keyVaultForbidden, { vaultUrl, kind: 'secret', name: 'graph-client-secret' }, madeWith),
    createCredentialError(CredentialErrorCodes.keyVaultForbidden, { vaultUrl, kind: 'certificate', name: 'graph-cert' }, madeWith),
    createCredentialError(CredentialErrorCodes.keyVaultAuthFailed, { problem: 'tokenRejected', vaultUrl, causeText: 'RestError: Unauthorized' }, madeWith),
    createCredentialError(
      CredentialErrorCodes.keyVaultAuthFailed,
      { problem: 'noIdentity', vaultUrl, causeText: 'CredentialUnavailableError: none' },
      madeWith,
    ),
    createCredentialError(
      CredentialErrorCodes.keyVaultAuthFailed,
      { problem: 'readFailed', vaultUrl, kind: 'secret', name: 'graph-client-secret', causeText: 'RestError: Bad Request' },
      madeWith,
    ),
    createCredentialError(CredentialErrorCodes.keyVaultUnreachable, { vaultUrl, vaultSetting: 'KEY_VAULT_URL', causeText: 'ECONNREFUSED' }, madeWith),
    createCredentialError(
      CredentialErrorCodes.keyVaultSecretEmpty,
      { vaultUrl, secretName: 'graph-client-secret', nameSetting: 'GRAPH_CLIENT_SECRET_NAME' },
      madeWith,
    ),
    createCredentialError(CredentialErrorCodes.certificateUnusable, { problem: 'noIssuedVersion', vaultUrl, name: 'graph-cert' }, madeWith),
    ...[
      { reason: 'disabled', version: 'v1' } as const,
      { reason: 'expired', expiresOn: new Date('2026-01-01T00:00:00Z') } as const,
      { reason: 'notYetValid', notBefore: new Date('2027-01-01T00:00:00Z') } as const,
      { reason: 'notExportable' } as const,
      { reason: 'keyMismatch', version: 'v2' } as const,
    ].map((why) =>
      createCredentialError(
        CredentialErrorCodes.certificateUnusable,
        { problem: 'notUsable', vaultUrl, name: 'graph-cert', nameSetting: 'GRAPH_CERTIFICATE_NAME', why },
        madeWith,
      ),
    ),
    createCredentialError(
      CredentialErrorCodes.certificateUnusable,
      { problem: 'unreadableSecret', contentType: undefined, causeText: 'Error: bad der' },
      madeWith,
    ),
    createCredentialError(CredentialErrorCodes.certificateRejected, { name: 'graph-cert', clientId: 'app-id', thumbprints: undefined }, madeWith),
    createCredentialError(
      CredentialErrorCodes.federatedCredentialMismatch,
      {
        aadsts: '70021',
        clientId: 'app-id',
        issuer: 'https://login.microsoftonline.com/t/v2.0',
        subject: 'principal-id',
        audience: 'api://AzureADTokenExchange',
      },
      madeWith,
    ),
    createCredentialError(CredentialErrorCodes.assertionExpired, {}, madeWith),
    createCredentialError(
      CredentialErrorCodes.managedIdentityFailed,
      { identityClientId: 'mi-id', audience: 'api://AzureADTokenExchange', causeText: 'CredentialUnavailableError: no identity' },
      madeWith,
    ),
    createCredentialError(CredentialErrorCodes.clientSecretRejected, { secretName: 'graph-client-secret', aadsts: '7000215' }, madeWith),
    createCredentialError(
      CredentialErrorCodes.clientSecretExpired,
      { secretName: 'graph-client-secret', vaultUrl: 'https://kv.vault.azure.net', clientId: 'app-id' },
      madeWith,
    ),
  ]);

  it('says which role Key Vault wants, as docs/credentials.md quotes it', () => {
    assert.equal(
      createCredentialError(CredentialErrorCodes.keyVaultForbidden, { vaultUrl, kind: 'secret', name: 'graph-client-secret' }).message,
      `Key Vault ${vaultUrl} refused to read secret "graph-client-secret" (403): the Function App's managed identity lacks the "Key Vault Secrets User" role on the vault ` +
        `(assign it, or check AZURE_CLIENT_ID names the identity that has it).`,
    );
    assert.equal(
      createCredentialError(CredentialErrorCodes.clientSecretRejected, { secretName: 'graph-client-secret', aadsts: '7000215' }).message,
      `Entra ID rejected the client secret stored in Key Vault secret "graph-client-secret" (AADSTS7000215), also after reading it again. ` +
        `Store the secret's Value (shown once, when the secret is created under Certificates & secrets), not its Secret ID, and check that it has not expired.`,
    );
  });

  it("names a certificate's problem and, when read, its thumbprints", () => {
    const expired = createCredentialError(CredentialErrorCodes.certificateUnusable, {
      problem: 'notUsable',
      vaultUrl,
      name: 'graph-cert',
      nameSetting: 'GRAPH_CERTIFICATE_NAME',
      why: { reason: 'expired', expiresOn: new Date('2026-01-01T00:00:00Z') },
    });
    assert.equal(
      expired.message,
      `Key Vault certificate "graph-cert" in ${vaultUrl} (setting GRAPH_CERTIFICATE_NAME) cannot be used: it expired on 2026-01-01T00:00:00.000Z: ` +
        `create a new version in Key Vault and upload its public part (.cer) to the app registration.`,
    );
    const rejected = createCredentialError(CredentialErrorCodes.certificateRejected, {
      name: 'graph-cert',
      clientId: 'app-id',
      thumbprints: { sha1: 'AB12', sha256: 'cd34' },
    });
    assert.match(rejected.message, /upload its public part \(SHA-1 thumbprint AB12 as the portal shows it, SHA-256 cd34\) to app registration app-id /);
    const unnamed = createCredentialError(CredentialErrorCodes.managedIdentityFailed, { identityClientId: 'mi-id', audience: 'api://x', causeText: undefined });
    assert.match(unnamed.message, /could not get a token for api:\/\/x: no token was returned\. /);
  });
});
