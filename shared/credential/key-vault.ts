import type { SecretClientOptions } from '@azure/keyvault-secrets';
import { budgetGuardPolicy, type BudgetSource, describeCause, isIdentityError, isNetworkError, SyncError, SyncErrorCodes } from '../core';

/**
 * What the Key Vault clients of the credential modules share (secret, certificate): their
 * options (the SDK's retry bounded by the run's budget) and one mapping of Key Vault's errors to
 * messages that name the setting, the object and the role to assign.
 */

/** The options the secret and certificate clients share (both extend core-client's common options). */
export type KeyVaultClientOptions = Omit<SecretClientOptions, 'serviceVersion'>;

export function keyVaultClientOptions(vaultUrl: string, vaultSetting: string, budgets: BudgetSource | undefined): KeyVaultClientOptions {
  return {
    // Key Vault checks that the vault host ends with the challenge's resource host (vault.azure.net).
    // A vault on loopback (the local stand-in) cannot, so only there is the check turned off.
    disableChallengeResourceVerification: isLoopback(vaultUrl),
    // The SDK's retry (Retry-After on 429/503, exponential on 5xx and network failures), bounded by the run's budget.
    retryOptions: { maxRetries: budgets === undefined ? 3 : 20, retryDelayInMs: 1000, maxRetryDelayInMs: 30_000 },
    additionalPolicies:
      budgets === undefined ? [] : [{ policy: budgetGuardPolicy(budgets, { dependency: 'Key Vault', setting: vaultSetting }), position: 'perRetry' }],
  };
}

export interface KeyVaultObject {
  vaultUrl: string;
  kind: 'secret' | 'certificate';
  name: string;
  vaultSetting: string;
  /** The setting that names the object. */
  nameSetting: string;
}

export function mapKeyVaultError(error: unknown, ctx: KeyVaultObject): SyncError {
  if (error instanceof SyncError) return error;
  if ((error as { cause?: unknown }).cause instanceof SyncError) return (error as { cause: SyncError }).cause;
  const details = { vaultUrl: ctx.vaultUrl, [ctx.kind === 'secret' ? 'secretName' : 'certificateName']: ctx.name };
  const status = (error as { statusCode?: unknown }).statusCode;
  const what = `${ctx.kind} "${ctx.name}"`;
  if (status === 404) {
    return new SyncError(
      ctx.kind === 'secret' ? SyncErrorCodes.keyVaultSecretNotFound : SyncErrorCodes.certificateNotFound,
      ctx.kind === 'secret'
        ? `Key Vault ${ctx.vaultUrl} has no secret named "${ctx.name}": create it with the client secret value, or set ${ctx.nameSetting} to the name of the secret that holds it.`
        : `Key Vault ${ctx.vaultUrl} has no certificate named "${ctx.name}": create it (az keyvault certificate create, exportable key), or set ${ctx.nameSetting} to the name of the certificate.`,
      { cause: error, details },
    );
  }
  if (status === 403) {
    const roles =
      ctx.kind === 'secret'
        ? 'the "Key Vault Secrets User" role'
        : 'the "Key Vault Certificate User" role (it reads the certificate and, as its secret, the private key)';
    return new SyncError(
      SyncErrorCodes.keyVaultForbidden,
      `Key Vault ${ctx.vaultUrl} refused to read ${what} (403): the Function App's managed identity lacks ${roles} on the vault ` +
        `(assign it, or check AZURE_CLIENT_ID names the identity that has it).`,
      { cause: error, details },
    );
  }
  if (status === 401) {
    return new SyncError(SyncErrorCodes.keyVaultAuthFailed, `Key Vault ${ctx.vaultUrl} rejected the managed identity's token (401): ${describeCause(error)}`, {
      cause: error,
      details,
    });
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
  return new SyncError(SyncErrorCodes.keyVaultAuthFailed, `Reading Key Vault ${what} from ${ctx.vaultUrl} failed: ${describeCause(error)}`, {
    cause: error,
    details,
  });
}

export function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
