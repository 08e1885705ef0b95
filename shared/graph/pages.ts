import type { TokenCredential } from '@azure/core-auth';
import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineRequest,
  isRestError,
  type HttpClient,
} from '@azure/core-rest-pipeline';
import {
  Attr,
  type BudgetSource,
  createRetryingPipeline,
  describeCause,
  httpStatus,
  inSpan,
  isNetworkError,
  SpanNames,
  SyncError,
  SyncErrorCodes,
} from '../core';
import { parseUsersPage, type UsersPage } from './users';

/**
 * Step 3: the directory's users, page by page: GET /v1.0/users with $select and $top (full
 * mode), or GET /v1.0/users/delta with $select (delta mode: a walk of nextLinks ending in an
 * @odata.deltaLink, or a saved deltaLink giving what changed since; `@removed` entries included).
 * Each page is yielded before the next is requested, so memory holds one page however large the
 * tenant is. Every @odata.nextLink is followed whole, never rebuilt from a parsed skip token.
 * A delta link Graph no longer knows (4xx syncStateNotFound / resyncRequired, or 410 Gone after
 * a sync reset, whose Location is kept in the error's details) is GRAPH_DELTA_LINK_EXPIRED.
 *
 * One core-rest-pipeline carries auth and retry: bearerTokenAuthenticationPolicy applies the
 * Graph token (a TokenCredential), and the retry of retry.ts requests the same page URL again on
 * 429/503/504 (Retry-After in seconds or as a date), other 5xx, refused or reset connections, a
 * reset while the body is read, a 200 whose body is not JSON, and an attempt over its timeout.
 * A page is parsed whole before it is yielded: its users are never half-sent.
 */

export interface GraphUsersOptions {
  /** e.g. https://graph.microsoft.com (no trailing slash). */
  baseUrl: string;
  fields: readonly string[];
  /** The app-only Graph token. */
  credential: TokenCredential;
  /** Shown in the 403 error: where an administrator grants consent. */
  adminConsentUrl: string;
  /** Shown in the 404 of a group: the tenant it was looked up in. */
  tenantLabel?: string;
  /** The run's retry budget. */
  budgets: BudgetSource;
  /** Per attempt, headers and body; default 100 s (Graph's own gateway limit). */
  attemptTimeoutMs?: number;
  /** 1-999; default 999 (fewest round trips). */
  pageSize?: number;
  /** Resume here (a saved @odata.nextLink) instead of the first page. */
  startUrl?: string;
  /** Stops the request in flight and the paging. */
  abortSignal?: AbortSignal;
  /** The network, behind core's small HttpClient interface. */
  httpClient?: HttpClient;
}

export interface FetchedUsersPage extends UsersPage {
  /** The URL this page was read from. */
  readonly url: string;
}

export const maxGraphPageSize = 999;

/**
 * The start of a delta walk: /users/delta with the same $select. No $top: Graph does not support
 * it on delta and picks the page size itself (at most 200 users).
 */
export function usersDeltaUrl(baseUrl: string, fields: readonly string[]): string {
  return `${new URL('/v1.0/users/delta', baseUrl).toString()}?$select=${fields.map(encodeURIComponent).join(',')}`;
}

export interface UsersQuery {
  /** USER_FILTER: Graph's $filter, as written. */
  readonly filter?: string | undefined;
  /** Ask for Graph's advanced queries: $count=true (and, on every page, ConsistencyLevel: eventual). */
  readonly advanced?: boolean;
}

export function usersUrl(baseUrl: string, fields: readonly string[], pageSize: number = maxGraphPageSize, query: UsersQuery = {}): string {
  // Property names are validated as [A-Za-z0-9_] by the settings module: nothing here needs escaping,
  // and the URL reads as Graph's documentation writes it.
  return `${new URL('/v1.0/users', baseUrl).toString()}?$select=${fields.map(encodeURIComponent).join(',')}&$top=${pageSize}${queryTail(query)}`;
}

/**
 * The users of a group, nested groups included: GET /groups/{id}/transitiveMembers/microsoft.graph.user.
 * The type cast on transitive members is an advanced query: $count=true here, ConsistencyLevel on each page.
 */
export function groupMembersUrl(
  baseUrl: string,
  groupId: string,
  fields: readonly string[],
  pageSize: number = maxGraphPageSize,
  query: Pick<UsersQuery, 'filter'> = {},
): string {
  const path = `/v1.0/groups/${encodeURIComponent(groupId)}/transitiveMembers/microsoft.graph.user`;
  return `${new URL(path, baseUrl).toString()}?$select=${fields.map(encodeURIComponent).join(',')}&$top=${pageSize}${queryTail({ ...query, advanced: true })}`;
}

/** Graph takes at most 15 values in an `in` (its limit on a filter's child clauses). */
export const maxIdsPerRequest = 15;

/** Given users by id (at most maxIdsPerRequest): GET /users?$filter=id in (...). Ids that are not users (any more) are left out by Graph. */
export function usersByIdUrl(baseUrl: string, fields: readonly string[], ids: readonly string[]): string {
  if (ids.length === 0 || ids.length > maxIdsPerRequest) throw new RangeError(`usersByIdUrl takes 1 to ${maxIdsPerRequest} ids, not ${ids.length}`);
  const filter = `id in (${ids.map((id) => `'${id.replace(/'/g, "''")}'`).join(',')})`;
  return `${new URL('/v1.0/users', baseUrl).toString()}?$select=${fields.map(encodeURIComponent).join(',')}${queryTail({ filter })}`;
}

/** A delta link for "now", without reading any user: /users/delta with $deltatoken=latest. */
export function latestDeltaUrl(baseUrl: string, fields: readonly string[]): string {
  return `${usersDeltaUrl(baseUrl, fields)}&$deltatoken=latest`;
}

function queryTail(query: UsersQuery): string {
  return (query.filter === undefined ? '' : `&$filter=${encodeURIComponent(query.filter)}`) + (query.advanced === true ? '&$count=true' : '');
}

/** What a page URL reads, for messages and for the headers an advanced query needs on every page. */
function describeUrl(url: string): { readonly what: string; readonly group: string | undefined; readonly filtered: boolean; readonly advanced: boolean } {
  const parsed = new URL(url);
  const group = /^\/v1\.0\/groups\/([^/]+)\/transitiveMembers/i.exec(parsed.pathname)?.[1];
  return {
    what: group === undefined ? `GET ${parsed.pathname.replace(/^\/v1\.0/, '')}` : 'GET /groups/{id}/transitiveMembers',
    group: group === undefined ? undefined : decodeURIComponent(group),
    filtered: parsed.searchParams.has('$filter'),
    advanced: parsed.searchParams.get('$count') === 'true',
  };
}

export async function* readUserPages(options: GraphUsersOptions): AsyncGenerator<FetchedUsersPage, void, undefined> {
  const origin = new URL(options.baseUrl).origin;
  const pipeline = createRetryingPipeline(options.budgets, {
    dependency: 'Microsoft Graph',
    setting: 'GRAPH_BASE_URL',
    attemptTimeoutMs: options.attemptTimeoutMs ?? 100_000,
  });
  pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential: options.credential, scopes: `${options.baseUrl}/.default` }), { phase: 'Sign' });
  const httpClient = options.httpClient ?? createDefaultHttpClient();
  let pageNumber = 0;

  let url: string | undefined = options.startUrl ?? usersUrl(options.baseUrl, options.fields, options.pageSize);
  while (url !== undefined) {
    // Never send the token anywhere but the configured Graph endpoint.
    if (new URL(url).origin !== origin) {
      throw new SyncError(
        SyncErrorCodes.graphResponseInvalid,
        `Graph returned an @odata.nextLink on another host (${new URL(url).origin}, expected ${origin}); refusing to follow it.`,
      );
    }
    // An advanced query (a group's members, a filter with ne/not/endsWith) needs the header on every page, nextLinks included.
    const headers = createHttpHeaders({ accept: 'application/json', ...(describeUrl(url).advanced ? { consistencylevel: 'eventual' } : {}) });
    const request = createPipelineRequest({ url, method: 'GET', headers, abortSignal: options.abortSignal });
    let status: number;
    let text: string;
    let requestId: string | undefined;
    let location: string | undefined;
    try {
      const response = await inSpan(
        SpanNames.graphPage,
        { [Attr.pageNumber]: ++pageNumber },
        () => pipeline.sendRequest(httpClient, request),
        (answer, span) => httpStatus(span, answer.status),
      );
      status = response.status;
      text = response.bodyAsText ?? '';
      requestId = response.headers.get('request-id') ?? undefined;
      location = response.headers.get('location') ?? undefined;
    } catch (error) {
      throw graphFailure(error, url, origin);
    }
    // A page link (a saved one, or a nextLink) carries a skip token, which Graph may refuse once expired.
    if (status !== 200) throw graphError(status, text, requestId, options, url, location);

    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      throw new SyncError(SyncErrorCodes.graphResponseInvalid, `Graph answered GET /users with a body that is not JSON: check GRAPH_BASE_URL (${origin}).`, {
        cause: error,
      });
    }
    const page = parseUsersPage(body, options.fields);
    yield { ...page, url };
    url = page.nextLink;
  }
}

function graphFailure(error: unknown, url: string, origin: string): SyncError {
  if (error instanceof SyncError) return error;
  // bearerTokenAuthenticationPolicy may wrap the credential's error; the SyncError inside says it best.
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof SyncError) return cause;
  if ((error as { name?: unknown }).name === 'AbortError') {
    return new SyncError(SyncErrorCodes.runInterrupted, `Reading Graph was stopped (${describeCause(error)}).`, { cause: error });
  }
  if (isNetworkError(error)) {
    return new SyncError(SyncErrorCodes.graphUnreachable, `Could not reach Microsoft Graph at ${origin} (setting GRAPH_BASE_URL): ${describeCause(error)}`, {
      cause: error,
    });
  }
  return new SyncError(
    SyncErrorCodes.graphRequestFailed,
    `GET ${redact(url)} failed: ${isRestError(error) ? `${error.code ?? ''} ${error.message}` : describeCause(error)}`,
    { cause: error },
  );
}

interface GraphErrorBody {
  error?: { code?: string; message?: string };
}

function graphError(
  status: number,
  text: string,
  requestId: string | undefined,
  options: GraphUsersOptions,
  url: string,
  location: string | undefined,
): SyncError {
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
  const query = new URL(url).searchParams;
  if (query.has('$deltatoken') && (status === 410 || (status >= 400 && status < 500 && /^(syncStateNotFound|resyncRequired|syncStateInvalid)$/i.test(code)))) {
    // Expired (about 7 days), or reset by tenant maintenance (410 Gone with a Location holding an empty $deltatoken).
    const restart = location !== undefined && new URL(location, url).origin === new URL(url).origin ? new URL(location, url).toString() : undefined;
    return new SyncError(
      SyncErrorCodes.graphDeltaLinkExpired,
      status === 410
        ? `Microsoft Graph reset the sync state (410 Gone${code === '' ? '' : ` ${code}`}): the delta link can no longer be used and a full resync is needed.`
        : `Microsoft Graph no longer knows the saved delta link (${status} ${code}: delta links expire after about 7 days without a run): a full resync is needed.`,
      { details: { ...details, location: restart } },
    );
  }
  const pageUrl = query.has('$skiptoken') ? url : undefined;
  if (pageUrl !== undefined && status === 400 && /ExpiredPageToken|InvalidPageToken|skiptoken/i.test(`${code} ${message}`)) {
    return new SyncError(SyncErrorCodes.graphPageLinkExpired, `Microsoft Graph refused a page link (400 ${code}): its skip token has expired.`, { details });
  }
  const read = describeUrl(url);
  if (read.group !== undefined && status === 404) {
    return new SyncError(
      SyncErrorCodes.groupNotFound,
      `SYNC_GROUP_ID ${read.group} names no group Microsoft Graph knows (404 ${code}): set it to the object ID of a group in tenant ${options.tenantLabel ?? 'GRAPH_TENANT_ID'} (Entra admin center, Groups, the group's Object ID), or remove it to sync every user.`,
      { details },
    );
  }
  if (status === 403) {
    const permission = read.group === undefined ? 'User.Read.All' : 'GroupMember.Read.All (to read the members of SYNC_GROUP_ID) besides User.Read.All';
    return new SyncError(
      SyncErrorCodes.graphConsentRequired,
      `Microsoft Graph denied ${read.what} (403 ${code}): the app needs the application permission ${permission} (Microsoft Graph) with admin consent. ` +
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
  if (status === 400 && read.filtered && !/Could not find a property/i.test(message)) {
    const byId = /^id in \(/.test(query.get('$filter') ?? '');
    return new SyncError(
      byId ? SyncErrorCodes.graphBadRequest : SyncErrorCodes.userFilterRefused,
      byId
        ? `Microsoft Graph refused to read users by id (400 ${code}: ${message}).`
        : `Microsoft Graph refused USER_FILTER (400 ${code}: ${message}): check the filter's property names, operators and quoting against Graph's $filter support for users ` +
            `(https://learn.microsoft.com/graph/aad-advanced-queries); ne, not and endsWith are sent as advanced queries already.`,
      { details },
    );
  }
  if (status === 400) {
    return new SyncError(
      SyncErrorCodes.graphBadRequest,
      `Microsoft Graph refused ${read.what} (400 ${code}: ${message}): check USER_FIELDS lists Graph user properties${read.filtered ? ' and USER_FILTER names them' : ''}.`,
      { details },
    );
  }
  return new SyncError(
    SyncErrorCodes.graphRequestFailed,
    `Microsoft Graph answered ${read.what} with ${status} ${code}: ${message}` + (requestId ? ` (request-id ${requestId})` : ''),
    {
      details,
    },
  );
}

/** A URL for messages: the opaque skip token is long and says nothing to a reader. */
function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.searchParams.has('$skiptoken')) parsed.searchParams.set('$skiptoken', '…');
  if (parsed.searchParams.has('$deltatoken')) parsed.searchParams.set('$deltatoken', '…');
  return parsed.toString();
}
