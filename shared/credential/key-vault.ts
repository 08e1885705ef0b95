import type { SecretClientOptions } from '@azure/keyvault-secrets';
import { budgetGuardPolicy, type BudgetSource, describeCause, isIdentityError, isNetworkError, SyncError } from '../core';
import { createCredentialError, CredentialErrorCodes } from './errors';

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
  const { vaultUrl, kind, name } = ctx;
  const options = { cause: error, details: { vaultUrl, [kind === 'secret' ? 'secretName' : 'certificateName']: name } };
  const status = (error as { statusCode?: unknown }).statusCode;
  if (status === 404) {
    const code = kind === 'secret' ? CredentialErrorCodes.keyVaultSecretNotFound : CredentialErrorCodes.certificateNotFound;
    return createCredentialError(code, { vaultUrl, name, nameSetting: ctx.nameSetting }, options);
  }
  if (status === 403) return createCredentialError(CredentialErrorCodes.keyVaultForbidden, { vaultUrl, kind, name }, options);
  const causeText = describeCause(error);
  if (status === 401) return createCredentialError(CredentialErrorCodes.keyVaultAuthFailed, { problem: 'tokenRejected', vaultUrl, causeText }, options);
  if (isNetworkError(error))
    return createCredentialError(CredentialErrorCodes.keyVaultUnreachable, { vaultUrl, vaultSetting: ctx.vaultSetting, causeText }, options);
  if (isIdentityError(error)) return createCredentialError(CredentialErrorCodes.keyVaultAuthFailed, { problem: 'noIdentity', vaultUrl, causeText }, options);
  return createCredentialError(CredentialErrorCodes.keyVaultAuthFailed, { problem: 'readFailed', vaultUrl, kind, name, causeText }, options);
}

export function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
