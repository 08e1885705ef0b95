import type { NodeAuthOptions } from '@azure/msal-node';
import type { SyncError } from '../core';
import { createCredentialError, CredentialErrorCodes } from './errors';
import type { GraphCredentialMode } from '../settings';

/**
 * What every credential mode shares: the interface token.ts drives (`ClientCredential`), what it
 * hands to msal-node (`CurrentClientAuth`), and the one refusal two modes explain alike
 * (`assertionExpired`). The modes (secret.ts, certificate.ts, managed-identity.ts) import this
 * file and nothing of each other; client-credential.ts picks one of them.
 */

/** The part of msal-node's auth configuration a credential fills in. */
export type ClientAuth = Pick<NodeAuthOptions, 'clientSecret' | 'clientCertificate' | 'clientAssertion'>;

/** What msal-node needs for one confidential client app, and the key that tells two apps apart. */
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

/** How the app proves itself to Entra ID, whatever the mode: the token step's only view of a credential. */
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

/** AADSTS700024: the assertion was outside its valid time when Entra ID checked it (certificate and managed-identity modes). */
export function assertionExpired(cause: unknown, details: Readonly<Record<string, string | undefined>>): SyncError {
  return createCredentialError(CredentialErrorCodes.assertionExpired, {}, { cause, details });
}
