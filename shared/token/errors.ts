import { type ErrorMessages, type MessageParams, SyncError, SyncErrorCodes, type SyncErrorOptions, messageOf } from '../core';

/**
 * The token family of errors (see core/sync-error.ts for how families work): what Entra ID's
 * answer to the client credentials request means (token.ts maps msal-node's errors), when it is
 * not the credential itself that was refused (that is the credential family's).
 */

export const TokenErrorCodes = {
  clientIdUnknown: SyncErrorCodes.clientIdUnknown,
  tenantUnknown: SyncErrorCodes.tenantUnknown,
  scopeInvalid: SyncErrorCodes.scopeInvalid,
  tokenFailed: SyncErrorCodes.tokenFailed,
} as const;

export type TokenErrorCode = (typeof TokenErrorCodes)[keyof typeof TokenErrorCodes];

export type TokenFailedParams =
  | { readonly problem: 'noToken'; readonly scope: string }
  /** The authority's OpenID configuration could not be used: `status` of its answer. */
  | { readonly problem: 'badDiscovery'; readonly authority: string; readonly status: number }
  | { readonly problem: 'authorityUnreachable'; readonly authorityHost: string; readonly causeText: string }
  | { readonly problem: 'failed'; readonly authority: string; readonly causeText: string };

function tokenFailed(p: TokenFailedParams): string {
  switch (p.problem) {
    case 'noToken':
      return `Entra ID returned no access token for ${p.scope}.`;
    case 'badDiscovery':
      return `The authority ${p.authority} did not give a usable OpenID configuration (HTTP ${p.status}): check AUTHORITY_HOST and GRAPH_TENANT_ID.`;
    case 'authorityUnreachable':
      return `Could not reach the authority ${p.authorityHost} (setting AUTHORITY_HOST): ${p.causeText}`;
    case 'failed':
      return `Getting an app-only token from ${p.authority} failed: ${p.causeText}`;
  }
}

export const TokenErrorMessages = {
  [TokenErrorCodes.clientIdUnknown]: (p: { readonly clientId: string; readonly tenantId: string }) =>
    `GRAPH_CLIENT_ID ${p.clientId} is not an application in tenant ${p.tenantId} (AADSTS700016): ` +
    `set GRAPH_CLIENT_ID to the app registration's Application (client) ID, and GRAPH_TENANT_ID to the tenant it is registered in.`,
  /** `aadsts` undefined: 90002. */
  [TokenErrorCodes.tenantUnknown]: (p: { readonly tenantId: string; readonly authorityHost: string; readonly aadsts: string | undefined }) =>
    `GRAPH_TENANT_ID "${p.tenantId}" is not a tenant known to ${p.authorityHost} (AADSTS${p.aadsts ?? '90002'}): ` +
    `set it to the Directory (tenant) ID of the app registration, and AUTHORITY_HOST to that tenant's cloud.`,
  [TokenErrorCodes.scopeInvalid]: (p: { readonly scope: string; readonly aadsts: string }) =>
    `Entra ID refused the scope ${p.scope} (AADSTS${p.aadsts}): check GRAPH_BASE_URL is the Graph endpoint of this cloud, e.g. https://graph.microsoft.com.`,
  [TokenErrorCodes.tokenFailed]: tokenFailed,
} satisfies ErrorMessages<TokenErrorCode>;

/** A SyncError of the token family, its message from TokenErrorMessages. */
export function createTokenError<C extends TokenErrorCode>(
  code: C,
  params: MessageParams<typeof TokenErrorMessages, C>,
  options: SyncErrorOptions = {},
): SyncError {
  return new SyncError(code, messageOf(TokenErrorMessages, code, params), options);
}
