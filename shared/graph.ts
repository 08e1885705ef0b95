import {
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
  type HttpClient,
  type PipelineRetryOptions,
} from '@azure/core-rest-pipeline';
import { SyncError, SyncErrorCodes, describeCause, isNetworkError } from './errors';
import { parseUsersPage, type DirectoryUser } from './users';

/**
 * Step 3: the directory's users, page by page, from GET /v1.0/users with $select and $top.
 * Each page is yielded before the next is requested, so memory holds one page however large the
 * tenant is. Every @odata.nextLink is followed whole, never rebuilt from a parsed skip token.
 *
 * HTTP goes through @azure/core-rest-pipeline: its retry policies honour Graph's Retry-After on
 * 429/503 and back off exponentially on other 5xx and network failures.
 */

export interface GraphUsersOptions {
  /** e.g. https://graph.microsoft.com (no trailing slash). */
  baseUrl: string;
  fields: readonly string[];
  /** A bearer token for Graph; called once per page (msal serves it from cache). */
  getAccessToken: () => Promise<string>;
  /** Shown in the 403 error: where an administrator grants consent. */
  adminConsentUrl: string;
  /** 1-999; default 999 (fewest round trips). */
  pageSize?: number;
  retryOptions?: PipelineRetryOptions;
  /** The network, behind core's small HttpClient interface. */
  httpClient?: HttpClient;
}

export const maxGraphPageSize = 999;

export function usersUrl(baseUrl: string, fields: readonly string[], pageSize: number = maxGraphPageSize): string {
  // Property names are validated as [A-Za-z0-9_] by the settings module: nothing here needs escaping,
  // and the URL reads as Graph's documentation writes it.
  return `${new URL('/v1.0/users', baseUrl).toString()}?$select=${fields.map(encodeURIComponent).join(',')}&$top=${pageSize}`;
}

export async function* readUserPages(options: GraphUsersOptions): AsyncGenerator<readonly DirectoryUser[], void, undefined> {
  const origin = new URL(options.baseUrl).origin;
  const pipeline = createPipelineFromOptions({
    retryOptions: options.retryOptions ?? { maxRetries: 5, retryDelayInMs: 1000, maxRetryDelayInMs: 60_000 },
    userAgentOptions: { userAgentPrefix: 'graph-user-sync' },
  });
  const httpClient = options.httpClient ?? createDefaultHttpClient();

  let url: string | undefined = usersUrl(options.baseUrl, options.fields, options.pageSize);
  while (url !== undefined) {
    // Never send the token anywhere but the configured Graph endpoint.
    if (new URL(url).origin !== origin) {
      throw new SyncError(SyncErrorCodes.graphResponseInvalid, `Graph returned an @odata.nextLink on another host (${new URL(url).origin}, expected ${origin}); refusing to follow it.`);
    }
    const token = await options.getAccessToken();
    const request = createPipelineRequest({
      url,
      method: 'GET',
      headers: createHttpHeaders({ authorization: `Bearer ${token}`, accept: 'application/json' }),
    });
    let status: number;
    let text: string;
    let requestId: string | undefined;
    try {
      const response = await pipeline.sendRequest(httpClient, request);
      status = response.status;
      text = response.bodyAsText ?? '';
      requestId = response.headers.get('request-id') ?? undefined;
    } catch (error) {
      if (isNetworkError(error)) {
        throw new SyncError(SyncErrorCodes.graphUnreachable, `Could not reach Microsoft Graph at ${origin} (setting GRAPH_BASE_URL): ${describeCause(error)}`, { cause: error });
      }
      throw new SyncError(SyncErrorCodes.graphRequestFailed, `GET ${redact(url)} failed: ${describeCause(error)}`, { cause: error });
    }
    if (status !== 200) throw graphError(status, text, requestId, options);

    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      throw new SyncError(SyncErrorCodes.graphResponseInvalid, `Graph answered GET /users with a body that is not JSON: check GRAPH_BASE_URL (${origin}).`, { cause: error });
    }
    const page = parseUsersPage(body, options.fields);
    yield page.users;
    url = page.nextLink;
  }
}

interface GraphErrorBody {
  error?: { code?: string; message?: string };
}

function graphError(status: number, text: string, requestId: string | undefined, options: GraphUsersOptions): SyncError {
  let code = '';
  let message = text.slice(0, 300);
  try {
    const parsed = JSON.parse(text) as GraphErrorBody;
    code = parsed.error?.code ?? '';
    message = parsed.error?.message ?? message;
  } catch {
    // not JSON: keep the start of the text
  }
  const details = { status, graphCode: code, requestId };
  if (status === 403) {
    return new SyncError(
      SyncErrorCodes.graphConsentRequired,
      `Microsoft Graph denied GET /users (403 ${code}): the app needs the application permission User.Read.All (Microsoft Graph) with admin consent. ` +
        `An administrator can grant it at ${options.adminConsentUrl}`,
      { details },
    );
  }
  if (status === 401) {
    return new SyncError(
      SyncErrorCodes.graphTokenRejected,
      `Microsoft Graph rejected the app-only token (401 ${code}: ${message}): check GRAPH_BASE_URL and AUTHORITY_HOST belong to the same cloud.`,
      { details },
    );
  }
  if (status === 400) {
    return new SyncError(SyncErrorCodes.graphBadRequest, `Microsoft Graph refused GET /users (400 ${code}: ${message}): check USER_FIELDS lists Graph user properties.`, { details });
  }
  return new SyncError(SyncErrorCodes.graphRequestFailed, `Microsoft Graph answered GET /users with ${status} ${code}: ${message}` + (requestId ? ` (request-id ${requestId})` : ''), {
    details,
  });
}

/** A URL for messages: the opaque skip token is long and says nothing to a reader. */
function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.searchParams.has('$skiptoken')) parsed.searchParams.set('$skiptoken', '…');
  return parsed.toString();
}
