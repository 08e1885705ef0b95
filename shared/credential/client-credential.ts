import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import type { NodeAuthOptions } from '@azure/msal-node';
import { createCertificateCredential } from './certificate';
import { createManagedIdentityCredential } from './managed-identity';
import { createClientSecretSource, createSecretCredential } from './secret';
import type { BudgetSource, SyncError } from '../core';
import type { GraphCredentialMode, GraphCredentialSettings } from '../settings';

/**
 * How the app proves itself to Entra ID: one interface, one module per mode (credential-secret.ts,
 * credential-certificate.ts, credential-managed-identity.ts), chosen once from the settings
 * (sync.ts). token.ts hands what `current()` gives to msal-node and asks the module what a
 * rejection means, so that the retry of the token call (msal-network.ts) and the "read it again
 * once" rule are the same for every mode.
 */

/** The part of msal-node's auth configuration a credential fills in. */
export type ClientAuth = Pick<NodeAuthOptions, 'clientSecret' | 'clientCertificate' | 'clientAssertion'>;

export interface CurrentClientAuth {
  /** Changes when the credential changes (a rotated secret, a new certificate version): msal gets a new app then. */
  readonly key: string;
  readonly auth: ClientAuth;
}

/** Who is asking, for the messages. */
export interface TokenRequestContext {
  readonly tenantId: string;
  readonly clientId: string;
  readonly authorityHost: string;
}

export interface ClientCredential {
  readonly mode: GraphCredentialMode;
  /** What msal needs; read on first use and after `invalidate`, cached otherwise (a certificate checks for a newer version once per run). */
  current(): Promise<CurrentClientAuth>;
  /** Called at the start of each run. */
  startRun(): void;
  /** Whether Entra ID's AADSTS code means this credential was refused (then it is read again, once, and the token asked again). */
  isRejection(aadsts: string): boolean;
  /** Forget what was read: the next `current()` reads it again. */
  invalidate(): void;
  /** The error for a refusal that persisted after reading the credential again, naming the fix; undefined for codes this mode does not explain. */
  rejected(aadsts: string, cause: unknown, context: TokenRequestContext): SyncError | undefined;
  /** How many times the credential's source was actually read (Key Vault, or the managed-identity endpoint). */
  readonly reads: number;
}

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
