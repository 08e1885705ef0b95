import type { TokenCredential } from '@azure/core-auth';
import { SecretClient } from '@azure/keyvault-secrets';
import { SyncError, SyncErrorCodes, describeCause, isIdentityError, isNetworkError } from './errors';
import { budgetGuardPolicy, type BudgetSource } from './retry';

/**
 * Step 1: the app registration's client secret, read from Key Vault and cached in memory.
 * Key Vault allows 4,000 GETs per 10 s per vault; a timer run needs one read per worker lifetime,
 * plus one after the secret is rotated (the token step calls `invalidate`).
 */
export interface ClientSecretSource {
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
  const client = new SecretClient(vaultUrl, credential, {
    // Key Vault checks that the vault host ends with the challenge's resource host (vault.azure.net).
    // A vault on loopback (the local stand-in) cannot, so only there is the check turned off.
    disableChallengeResourceVerification: isLoopback(vaultUrl),
    // The SDK's retry (Retry-After on 429/503, exponential on 5xx and network failures), bounded by the run's budget.
    retryOptions: { maxRetries: options.budgets === undefined ? 3 : 20, retryDelayInMs: 1000, maxRetryDelayInMs: 30_000 },
    additionalPolicies: options.budgets === undefined ? [] : [{ policy: budgetGuardPolicy(options.budgets, { dependency: 'Key Vault', setting: vaultSetting }), position: 'perRetry' }],
  });

  let cached: Promise<string> | undefined;
  let reads = 0;

  async function read(): Promise<string> {
    reads++;
    try {
      const secret = await client.getSecret(secretName);
      if (secret.value === undefined || secret.value === '') {
        throw new SyncError(
          SyncErrorCodes.keyVaultSecretEmpty,
          `Key Vault secret "${secretName}" in ${vaultUrl} is empty: store the app registration's client secret value in it (setting ${nameSetting}).`,
          { details: { vaultUrl, secretName } },
        );
      }
      return secret.value;
    } catch (error) {
      throw mapKeyVaultError(error, { vaultUrl, secretName, vaultSetting, nameSetting });
    }
  }

  return {
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

interface KeyVaultContext {
  vaultUrl: string;
  secretName: string;
  vaultSetting: string;
  nameSetting: string;
}

function mapKeyVaultError(error: unknown, ctx: KeyVaultContext): SyncError {
  if (error instanceof SyncError) return error;
  if ((error as { cause?: unknown }).cause instanceof SyncError) return (error as { cause: SyncError }).cause;
  const details = { vaultUrl: ctx.vaultUrl, secretName: ctx.secretName };
  const status = (error as { statusCode?: unknown }).statusCode;
  if (status === 404) {
    return new SyncError(
      SyncErrorCodes.keyVaultSecretNotFound,
      `Key Vault ${ctx.vaultUrl} has no secret named "${ctx.secretName}": create it with the client secret value, or set ${ctx.nameSetting} to the name of the secret that holds it.`,
      { cause: error, details },
    );
  }
  if (status === 403) {
    return new SyncError(
      SyncErrorCodes.keyVaultForbidden,
      `Key Vault ${ctx.vaultUrl} refused to read secret "${ctx.secretName}" (403): the Function App's managed identity lacks the "Key Vault Secrets User" role on the vault ` +
        `(assign it, or check AZURE_CLIENT_ID names the identity that has it).`,
      { cause: error, details },
    );
  }
  if (status === 401) {
    return new SyncError(
      SyncErrorCodes.keyVaultAuthFailed,
      `Key Vault ${ctx.vaultUrl} rejected the managed identity's token (401): ${describeCause(error)}`,
      { cause: error, details },
    );
  }
  if (isNetworkError(error)) {
    return new SyncError(
      SyncErrorCodes.keyVaultUnreachable,
      `Could not reach Key Vault at ${ctx.vaultUrl} (setting ${ctx.vaultSetting}): ${describeCause(error)}`,
      { cause: error, details },
    );
  }
  if (isIdentityError(error)) {
    return new SyncError(
      SyncErrorCodes.keyVaultAuthFailed,
      `No identity could get a token for Key Vault ${ctx.vaultUrl}: in Azure enable the Function App's managed identity (and set AZURE_CLIENT_ID for a user-assigned one); ` +
        `on a laptop sign in with "az login". Cause: ${describeCause(error)}`,
      { cause: error, details },
    );
  }
  return new SyncError(SyncErrorCodes.keyVaultAuthFailed, `Reading Key Vault secret "${ctx.secretName}" from ${ctx.vaultUrl} failed: ${describeCause(error)}`, {
    cause: error,
    details,
  });
}

export function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
