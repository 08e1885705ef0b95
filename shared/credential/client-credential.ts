import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import type { ClientCredential } from './base';
import { createCertificateCredential } from './certificate';
import { createManagedIdentityCredential } from './managed-identity';
import { createClientSecretSource, createSecretCredential } from './secret';
import type { BudgetSource } from '../core';
import type { GraphCredentialSettings } from '../settings';

/**
 * How the app proves itself to Entra ID: one interface (base.ts), one module per mode (secret.ts,
 * certificate.ts, managed-identity.ts), chosen once from the settings when the runtime is made
 * (run/runtime.ts calls `createClientCredential`). token.ts hands what `current()` gives to
 * msal-node and asks the module what a rejection means, so that the retry of the token call
 * (msal-network.ts) and the "read it again once" rule are the same for every mode.
 */

/** Where the credential's own Azure calls get their identity and retry budget (tests pass stand-ins). */
export interface ClientCredentialOptions {
  /** For Key Vault (secret and certificate modes); default DefaultAzureCredential (AZURE_CLIENT_ID honoured). */
  keyVaultCredential?: TokenCredential;
  /** The user-assigned identity whose token is the assertion (managed-identity mode); default ManagedIdentityCredential(AZURE_CLIENT_ID). */
  identityCredential?: TokenCredential;
  /** The run's retry budget, for Key Vault. */
  budgets?: BudgetSource;
}

/** The credential of GRAPH_CREDENTIAL's mode, once per runtime. */
export function createClientCredential(
  settings: GraphCredentialSettings,
  managedIdentityClientId: string | undefined,
  options: ClientCredentialOptions = {},
): ClientCredential {
  const budgets = options.budgets === undefined ? {} : { budgets: options.budgets };
  const keyVaultCredential = (): TokenCredential =>
    options.keyVaultCredential ?? new DefaultAzureCredential(managedIdentityClientId === undefined ? {} : { managedIdentityClientId });
  switch (settings.mode) {
    case 'secret':
      return createSecretCredential(createClientSecretSource(settings.keyVaultUrl, settings.secretName, keyVaultCredential(), budgets), settings.secretName);
    case 'certificate':
      return createCertificateCredential(settings.keyVaultUrl, settings.certificateName, keyVaultCredential(), budgets);
    case 'managed-identity':
      return createManagedIdentityCredential(
        options.identityCredential ?? new ManagedIdentityCredential({ clientId: settings.identityClientId }),
        settings.audience,
        settings.identityClientId,
      );
  }
}
