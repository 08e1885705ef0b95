import { createHash } from 'node:crypto';
import type { TokenCredential } from '@azure/core-auth';
import { SecretClient } from '@azure/keyvault-secrets';
import type { ClientCredential, CurrentClientAuth } from './base';
import { type BudgetSource, inSpan, SpanNames, type SyncError } from '../core';
import { createCredentialError, CredentialErrorCodes } from './errors';
import { keyVaultClientOptions, mapKeyVaultError } from './key-vault';

/**
 * Step 1 (GRAPH_CREDENTIAL=secret): the app registration's client secret, read from Key Vault and cached in memory.
 * Key Vault allows 4,000 GETs per 10 s per vault; a timer run needs one read per worker lifetime,
 * plus one after the secret is rotated (the token step calls `invalidate`).
 */
export interface ClientSecretSource {
  /** The vault the secret is read from (for messages). */
  readonly vaultUrl: string;
  /** The secret value; read from Key Vault on first use and after `invalidate`. */
  get(): Promise<string>;
  /** Forget the cached value so that the next `get` reads Key Vault again. */
  invalidate(): void;
  /** How many times the vault was actually read (for the run summary and tests). */
  readonly reads: number;
}

export interface ClientSecretSourceOptions {
  /** Setting names to quote in error messages. */
  vaultUrlSetting?: string;
  secretNameSetting?: string;
  /** The run's retry budget: Key Vault's own retries (429/5xx with Retry-After, network) stop when it is spent. */
  budgets?: BudgetSource;
}

export function createClientSecretSource(
  vaultUrl: string,
  secretName: string,
  credential: TokenCredential,
  options: ClientSecretSourceOptions = {},
): ClientSecretSource {
  const vaultSetting = options.vaultUrlSetting ?? 'KEY_VAULT_URL';
  const nameSetting = options.secretNameSetting ?? 'GRAPH_CLIENT_SECRET_NAME';
  const client = new SecretClient(vaultUrl, credential, keyVaultClientOptions(vaultUrl, vaultSetting, options.budgets));

  let cached: Promise<string> | undefined;
  let reads = 0;

  async function read(): Promise<string> {
    reads++;
    try {
      const secret = await inSpan(SpanNames.keyVaultSecret, {}, () => client.getSecret(secretName));
      if (secret.value === undefined || secret.value === '') {
        throw createCredentialError(CredentialErrorCodes.keyVaultSecretEmpty, { vaultUrl, secretName, nameSetting }, { details: { vaultUrl, secretName } });
      }
      return secret.value;
    } catch (error) {
      throw mapKeyVaultError(error, { vaultUrl, kind: 'secret', name: secretName, vaultSetting, nameSetting });
    }
  }

  return {
    vaultUrl,
    get(): Promise<string> {
      if (cached === undefined) {
        const pending = read();
        cached = pending;
        // A failed read is not cached: the next run tries again.
        pending.catch(() => {
          if (cached === pending) cached = undefined;
        });
      }
      return cached;
    },
    invalidate(): void {
      cached = undefined;
    },
    get reads(): number {
      return reads;
    },
  };
}

/** AADSTS codes of a refused client secret. */
export const SecretRejectionCodes = { invalid: '7000215', expired: '7000222' } as const;

/** GRAPH_CREDENTIAL=secret: the client secret from Key Vault, as a ClientCredential. */
export function createSecretCredential(source: ClientSecretSource, secretName: string): ClientCredential {
  return {
    mode: 'secret',
    async current(): Promise<CurrentClientAuth> {
      const secret = await source.get();
      // A hash, not the secret, tells msal apps apart.
      return { key: createHash('sha256').update(secret).digest('hex'), auth: { clientSecret: secret } };
    },
    startRun: () => undefined,
    isRejection: (aadsts) => aadsts === SecretRejectionCodes.invalid || aadsts === SecretRejectionCodes.expired,
    invalidate: () => source.invalidate(),
    rejected(aadsts, cause, context): SyncError | undefined {
      if (aadsts !== SecretRejectionCodes.invalid && aadsts !== SecretRejectionCodes.expired) return undefined;
      if (aadsts === SecretRejectionCodes.expired) {
        return createCredentialError(
          CredentialErrorCodes.clientSecretExpired,
          { secretName, vaultUrl: source.vaultUrl, clientId: context.clientId },
          { cause, details: { aadsts, tenantId: context.tenantId, clientId: context.clientId, vaultUrl: source.vaultUrl } },
        );
      }
      return createCredentialError(
        CredentialErrorCodes.clientSecretRejected,
        { secretName, aadsts },
        { cause, details: { aadsts, tenantId: context.tenantId, clientId: context.clientId } },
      );
    },
    get reads(): number {
      return source.reads;
    },
  };
}
