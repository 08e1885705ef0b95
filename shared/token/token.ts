import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { ConfidentialClientApplication, type Configuration } from '@azure/msal-node';
import type { ClientCredential, CurrentClientAuth } from '../credential';
import { Attr, type BudgetSource, describeCause, inSpan, RetryBudget, SpanNames, SyncError } from '../core';
import { createTokenError, TokenErrorCodes } from './errors';
import { createRetryingNetworkModule } from './msal-network';
import { MicrosoftHosts } from '../settings';

const defaultTokenBudgetMs = 600_000;

/**
 * An app-only token for Graph with msal-node's client credentials flow.
 *
 * The ConfidentialClientApplication lives as long as this provider and its credential (the
 * Function keeps one per worker), so its in-memory token cache serves later runs: Microsoft's
 * guidance for Functions. The credential (client-credential.ts: a secret, a certificate or the
 * managed identity's assertion) says which AADSTS codes mean it was refused; then it is read
 * again once (a rotated secret, a new certificate version, a fresh assertion) and the token
 * requested once more.
 * msal's network goes through a retrying pipeline (msal-network.ts): transient faults of the
 * token endpoint are retried within the run's budget; permanent AADSTS errors fail at once.
 */

/** AADSTS codes this module turns into actionable errors (exported like msal's own error codes). */
export const AadstsCodes = {
  applicationNotFound: '700016',
  tenantNotFound: '90002',
  tenantNotFoundByDomain: '90023',
  invalidScope: '1002012',
  invalidScopeV1: '70011',
  resourceNotFound: '500011',
} as const;

export interface AppToken {
  readonly accessToken: string;
  readonly expiresOn: Date | null;
  readonly fromCache: boolean;
}

export interface AppTokenProvider {
  getToken(): Promise<AppToken>;
}

/** The small network surface used to explain a failed authority lookup (a fetch by default). */
export interface AuthorityProbe {
  (url: string): Promise<{ status: number; body: string }>;
}

export interface AppTokenProviderOptions {
  tenantId: string;
  clientId: string;
  /** e.g. https://login.microsoftonline.com (no trailing slash). */
  authorityHost: string;
  /** e.g. https://graph.microsoft.com/.default */
  scope: string;
  /** How the app proves itself: a secret, a certificate, or the managed identity's assertion. */
  credential: ClientCredential;
  /** The run's retry budget (token calls are retried within it); default 600 s per getToken call. */
  budgets?: BudgetSource;
  probe?: AuthorityProbe;
}

/** Hosts of Microsoft's public and sovereign clouds: msal knows these; any other host is added to knownAuthorities. */
const microsoftAuthorityHosts = new Set<string>(MicrosoftHosts.authority);

export function createAppTokenProvider(options: AppTokenProviderOptions): AppTokenProvider {
  const authority = `${options.authorityHost}/${options.tenantId}`;
  const authorityHost = new URL(options.authorityHost).host;
  const probe = options.probe ?? defaultProbe;
  let client: { key: string; app: ConfidentialClientApplication } | undefined;
  let perCall = new RetryBudget(defaultTokenBudgetMs);
  const network = createRetryingNetworkModule(options.budgets ?? { current: () => perCall });
  const context = { tenantId: options.tenantId, clientId: options.clientId, authorityHost: options.authorityHost };

  function clientFor(current: CurrentClientAuth): ConfidentialClientApplication {
    if (client?.key !== current.key) {
      const config: Configuration = {
        auth: {
          clientId: options.clientId,
          authority,
          ...current.auth,
          knownAuthorities: microsoftAuthorityHosts.has(authorityHost) ? [] : [authorityHost],
        },
        system: { loggerOptions: { piiLoggingEnabled: false }, networkClient: network },
      };
      client = { key: current.key, app: new ConfidentialClientApplication(config) };
    }
    return client.app;
  }

  async function acquire(): Promise<AppToken> {
    const result = await clientFor(await options.credential.current()).acquireTokenByClientCredential({ scopes: [options.scope] });
    if (result === null || result.accessToken === '') {
      throw createTokenError(TokenErrorCodes.tokenFailed, { problem: 'noToken', scope: options.scope });
    }
    return { accessToken: result.accessToken, expiresOn: result.expiresOn, fromCache: result.fromCache };
  }

  return {
    // One span per token: from msal's cache or from Entra ID (with the credential's read, when it is read).
    getToken: () =>
      inSpan(SpanNames.token, { [Attr.credentialMode]: options.credential.mode }, requestToken, (token, span) =>
        span.setAttribute(Attr.tokenFromCache, token.fromCache),
      ),
  };

  async function requestToken(): Promise<AppToken> {
    network.lastError = undefined;
    perCall = new RetryBudget(defaultTokenBudgetMs);
    try {
      return await acquire();
    } catch (error) {
      const no = errorNoOf(error);
      if (no === undefined || !options.credential.isRejection(no)) throw await failure(error);
    }
    // Refused: perhaps rotated since we cached it, or an assertion that lapsed. Read it again, once.
    options.credential.invalidate();
    try {
      return await acquire();
    } catch (error) {
      const no = errorNoOf(error);
      throw (no === undefined ? undefined : options.credential.rejected(no, error, context)) ?? (await failure(error));
    }
  }

  async function failure(error: unknown): Promise<SyncError> {
    // The pipeline's own verdict (retry budget spent, with the last answer) beats msal's opaque wrapper.
    const underneath = network.lastError;
    network.lastError = undefined;
    if (underneath instanceof SyncError) {
      client = undefined; // a fresh msal app next time: nothing transient stays cached
      return underneath;
    }
    return mapTokenError(error, options, authority, probe);
  }
}

/**
 * The Graph token as an @azure/core-auth TokenCredential, so that the Graph pipeline's
 * bearerTokenAuthenticationPolicy applies it. `fromCache` tells whether the last token came
 * from msal's cache (for the run summary).
 */
export interface GraphTokenCredential extends TokenCredential {
  readonly lastFromCache: boolean | undefined;
}

export function graphTokenCredential(provider: AppTokenProvider): GraphTokenCredential {
  let lastFromCache: boolean | undefined;
  return {
    async getToken(): Promise<AccessToken> {
      const token = await provider.getToken();
      lastFromCache = token.fromCache;
      // msal always sets expiresOn for client credentials; five minutes is a safe floor if not.
      return { token: token.accessToken, expiresOnTimestamp: token.expiresOn?.getTime() ?? Date.now() + 300_000, tokenType: 'Bearer' };
    },
    get lastFromCache() {
      return lastFromCache;
    },
  };
}

function errorNoOf(error: unknown): string | undefined {
  const errorNo = (error as { errorNo?: unknown }).errorNo;
  if (typeof errorNo === 'string' || typeof errorNo === 'number') return String(errorNo);
  const message = (error as { errorMessage?: unknown }).errorMessage;
  const match = typeof message === 'string' ? /AADSTS(\d+)/.exec(message) : null;
  return match?.[1];
}

async function mapTokenError(error: unknown, options: AppTokenProviderOptions, authority: string, probe: AuthorityProbe): Promise<SyncError> {
  if (error instanceof SyncError) return error;
  const no = errorNoOf(error);
  const details = { aadsts: no, tenantId: options.tenantId, clientId: options.clientId };
  switch (no) {
    case AadstsCodes.applicationNotFound:
      return createTokenError(TokenErrorCodes.clientIdUnknown, { clientId: options.clientId, tenantId: options.tenantId }, { cause: error, details });
    case AadstsCodes.tenantNotFound:
    case AadstsCodes.tenantNotFoundByDomain:
      return tenantUnknown(error, options, no);
    case AadstsCodes.invalidScope:
    case AadstsCodes.invalidScopeV1:
    case AadstsCodes.resourceNotFound:
      return createTokenError(TokenErrorCodes.scopeInvalid, { scope: options.scope, aadsts: no }, { cause: error, details });
    default:
      break;
  }
  const code = (error as { errorCode?: unknown }).errorCode;
  if (code === 'endpoints_resolution_error') {
    // msal hides why: unreachable host, untrusted certificate, unknown tenant. Ask once more, ourselves.
    const discovery = `${authority}/v2.0/.well-known/openid-configuration`;
    try {
      const answer = await probe(discovery);
      if (/AADSTS(90002|90023)\b/.test(answer.body)) return tenantUnknown(error, options, AadstsCodes.tenantNotFound);
      return createTokenError(TokenErrorCodes.tokenFailed, { problem: 'badDiscovery', authority, status: answer.status }, { cause: error, details });
    } catch (probeError) {
      return createTokenError(
        TokenErrorCodes.tokenFailed,
        { problem: 'authorityUnreachable', authorityHost: options.authorityHost, causeText: describeCause(probeError) },
        { cause: error, details },
      );
    }
  }
  return createTokenError(TokenErrorCodes.tokenFailed, { problem: 'failed', authority, causeText: describeCause(error) }, { cause: error, details });
}

function tenantUnknown(error: unknown, options: AppTokenProviderOptions, no: string | undefined): SyncError {
  return createTokenError(
    TokenErrorCodes.tenantUnknown,
    { tenantId: options.tenantId, authorityHost: options.authorityHost, aadsts: no },
    { cause: error, details: { aadsts: no, tenantId: options.tenantId } },
  );
}

async function defaultProbe(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: await response.text() };
}
