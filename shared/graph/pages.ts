import type { TokenCredential } from '@azure/core-auth';
import { bearerTokenAuthenticationPolicy, createDefaultHttpClient, createHttpHeaders, createPipelineRequest, type HttpClient } from '@azure/core-rest-pipeline';
import { Attr, type BudgetSource, createRetryingPipeline, httpStatus, inSpan, SpanNames } from '../core';
import { createGraphError, GraphErrorCodes } from './errors';
import { graphError, graphFailure } from './failures';
import { describeUrl, usersUrl } from './urls';
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
      throw createGraphError(GraphErrorCodes.graphResponseInvalid, { problem: 'foreignNextLink', host: new URL(url).origin, origin });
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
      throw createGraphError(GraphErrorCodes.graphResponseInvalid, { problem: 'notJson', origin }, { cause: error });
    }
    const page = parseUsersPage(body, options.fields);
    yield { ...page, url };
    url = page.nextLink;
  }
}
