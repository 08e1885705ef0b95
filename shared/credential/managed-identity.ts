import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { assertionExpired, type ClientCredential, type CurrentClientAuth } from './base';
import { describeCause, inSpan, SpanNames, type SyncError } from '../core';
import { createCredentialError, CredentialErrorCodes } from './errors';

/**
 * GRAPH_CREDENTIAL=managed-identity: no secret and no certificate anywhere. The Function App's
 * user-assigned managed identity gets a token for the token-exchange audience
 * (api://AzureADTokenExchange in the public cloud), and that token is the client assertion of
 * the app registration, which trusts it through a federated identity credential (issuer
 * `<authority host>/<tenant id>/v2.0`, subject = the identity's object id, that audience).
 *
 * msal-node calls the assertion callback for every token request it sends; the assertion is
 * kept until five minutes before it expires, so msal never sends one about to lapse (msal's own
 * token cache still serves most runs without calling it at all).
 */

/** AADSTS codes of a refused federated assertion. */
export const FederatedRejectionCodes = {
  noMatch: '70021',
  noMatchIssuer: '700211',
  noMatchAudience: '700212',
  noMatchSubject: '700213',
  expired: '700024',
} as const;

/** Entra's answers for an assertion no federated credential of the app matches: 70021, or the finer 700211/700212/700213. */
const mismatchCodes: ReadonlySet<string> = new Set([
  FederatedRejectionCodes.noMatch,
  FederatedRejectionCodes.noMatchIssuer,
  FederatedRejectionCodes.noMatchAudience,
  FederatedRejectionCodes.noMatchSubject,
]);

export interface ManagedIdentityCredentialOptions {
  /** Default Date.now. */
  now?: () => number;
  /** Seconds before expiry when a new assertion is fetched; default 300. */
  refreshBeforeSeconds?: number;
}

/**
 * @param identity the user-assigned identity (ManagedIdentityCredential with its client id)
 * @param audience e.g. api://AzureADTokenExchange
 */
export function createManagedIdentityCredential(
  identity: TokenCredential,
  audience: string,
  identityClientId: string,
  options: ManagedIdentityCredentialOptions = {},
): ClientCredential {
  const now = options.now ?? Date.now;
  const refreshMs = (options.refreshBeforeSeconds ?? 300) * 1000;
  let cached: AccessToken | undefined;
  let reads = 0;

  async function assertion(): Promise<string> {
    if (cached !== undefined && cached.expiresOnTimestamp - refreshMs > now()) return cached.token;
    reads++;
    let token: AccessToken | null;
    try {
      token = await inSpan(SpanNames.identityToken, {}, () => identity.getToken(`${audience}/.default`));
    } catch (error) {
      throw identityFailed(describeCause(error), error);
    }
    if (token === null || token.token === '') throw identityFailed(undefined, undefined);
    cached = token;
    return token.token;
  }

  /** `causeText` undefined: the identity answered without a token. */
  function identityFailed(causeText: string | undefined, cause: unknown): SyncError {
    return createCredentialError(
      CredentialErrorCodes.managedIdentityFailed,
      { identityClientId, audience, causeText },
      { cause, details: { identityClientId, audience } },
    );
  }

  return {
    mode: 'managed-identity',
    current(): Promise<CurrentClientAuth> {
      // One msal app for the worker: the callback gives it a fresh assertion whenever it asks.
      return Promise.resolve({ key: `managed-identity:${identityClientId}:${audience}`, auth: { clientAssertion: () => assertion() } });
    },
    startRun: () => undefined,
    isRejection: (aadsts) => mismatchCodes.has(aadsts) || aadsts === FederatedRejectionCodes.expired,
    invalidate(): void {
      cached = undefined;
    },
    rejected(aadsts, cause, context): SyncError | undefined {
      const details = { aadsts, tenantId: context.tenantId, clientId: context.clientId, identityClientId };
      if (aadsts === FederatedRejectionCodes.expired) return assertionExpired(cause, details);
      if (!mismatchCodes.has(aadsts)) return undefined;
      // What the app registration must trust: issuer and subject (the identity's object id) from the assertion, the audience as configured (Entra may put the exchange app's id in `aud`). No secret in them.
      const claims = cached === undefined ? {} : claimsOf(cached.token);
      const issuer = claims.iss ?? `${context.authorityHost}/${context.tenantId}/v2.0`;
      const subject = claims.sub ?? '<the object (principal) id of the managed identity>';
      return createCredentialError(
        CredentialErrorCodes.federatedCredentialMismatch,
        { aadsts, clientId: context.clientId, issuer, subject, audience },
        { cause, details: { ...details, issuer, subject, audience } },
      );
    },
    get reads(): number {
      return reads;
    },
  };
}

/** iss and sub of a JWT (unverified: only to say what the app registration must trust). */
function claimsOf(jwt: string): { iss?: string; sub?: string } {
  try {
    const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    const { iss, sub } = payload;
    return { ...(typeof iss === 'string' ? { iss } : {}), ...(typeof sub === 'string' ? { sub } : {}) };
  } catch {
    return {};
  }
}
