import { isRestError } from '@azure/core-rest-pipeline';
import { CoreErrorCodes, createCoreError, describeCause, isNetworkError, SyncError } from '../core';
import { createGraphError, createGraphResyncRequired, GraphErrorCodes } from './errors';
import { isRangeFilter } from './partitions';
import { describeUrl, redact } from './urls';

/**
 * What a failed Graph page request means, as a SyncError naming the fix: no answer at all
 * (`graphFailure`), or an answer other than 200 (`graphError`: a delta link to resync, an expired
 * page link, a missing group, consent, the token, a refused filter or field list).
 */

/** The error for a page request that got no answer (network, abort) or failed in the pipeline. */
export function graphFailure(error: unknown, url: string, origin: string): SyncError {
  if (error instanceof SyncError) return error;
  // bearerTokenAuthenticationPolicy may wrap the credential's error; the SyncError inside says it best.
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof SyncError) return cause;
  if ((error as { name?: unknown }).name === 'AbortError') {
    return createCoreError(CoreErrorCodes.runInterrupted, { problem: 'graphStopped', causeText: describeCause(error) }, { cause: error });
  }
  if (isNetworkError(error)) return createGraphError(GraphErrorCodes.graphUnreachable, { origin, causeText: describeCause(error) }, { cause: error });
  // A RestError of the pipeline says it best as its code and message.
  const causeText = isRestError(error) ? `${error.code ?? ''} ${error.message}` : describeCause(error);
  return createGraphError(GraphErrorCodes.graphRequestFailed, { problem: 'noAnswer', url: redact(url), causeText }, { cause: error });
}

interface GraphErrorBody {
  error?: { code?: string; message?: string };
}

/** What a Graph error message names beside the request: where consent is granted, which tenant a group was looked up in. */
export interface GraphErrorContext {
  readonly adminConsentUrl: string;
  readonly tenantLabel?: string | undefined;
}

/** Graph's error code and message from an error body (JSON), or the start of the text. */
function parseErrorBody(text: string): { code: string; message: string } {
  let code = '';
  let message = text.slice(0, 300);
  try {
    const parsed = JSON.parse(text) as GraphErrorBody;
    code = parsed.error?.code ?? '';
    message = parsed.error?.message ?? message;
  } catch {
    // not JSON: keep the start of the text
  }
  return { code, message };
}

/** The error for a non-200 answer to a page request: what it means for this run, and the fix. */
export function graphError(
  status: number,
  text: string,
  requestId: string | undefined,
  context: GraphErrorContext,
  url: string,
  location: string | undefined,
): SyncError {
  const { code, message } = parseErrorBody(text);
  const details = { status, graphCode: code, requestId };
  const query = new URL(url).searchParams;
  const answer: GraphAnswer = { status, code, message, requestId, details, url, query };
  return (
    resyncRequired(answer, location) ??
    pageLinkExpired(answer) ??
    accessRefused(answer, context) ??
    requestRefused(answer) ??
    notServedInLists(answer) ??
    createGraphError(
      GraphErrorCodes.graphRequestFailed,
      { problem: 'answered', what: describeUrl(url).what, status, graphCode: code, graphMessage: message, requestId },
      { details },
    )
  );
}

/** A non-200 answer, parsed once for the mappings below. */
interface GraphAnswer {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly requestId: string | undefined;
  readonly details: { readonly status: number; readonly graphCode: string; readonly requestId: string | undefined };
  readonly url: string;
  readonly query: URLSearchParams;
}

/** A delta link Graph no longer knows: expired (about 7 days), or reset by tenant maintenance (410 Gone with a Location holding an empty $deltatoken). */
function resyncRequired({ status, code, details, url, query }: GraphAnswer, location: string | undefined): SyncError | undefined {
  // delta-query-overview.md: the reset may come on any request of a delta walk (its first, or a nextLink's), not only on the delta link.
  const deltaWalk = new URL(url).pathname.replace(/\/$/, '').endsWith('/delta') && (query.has('$deltatoken') || query.has('$skiptoken'));
  if (!(deltaWalk && (status === 410 || (status >= 400 && status < 500 && /^(syncStateNotFound|resyncRequired|syncStateInvalid)$/i.test(code)))))
    return undefined;
  const restart = location !== undefined && new URL(location, url).origin === new URL(url).origin ? new URL(location, url).toString() : undefined;
  return createGraphResyncRequired({ status, graphCode: code }, details, restart);
}

/** A saved page link whose skip token Graph no longer accepts. */
function pageLinkExpired({ status, code, message, details, url, query }: GraphAnswer): SyncError | undefined {
  const pageUrl = query.has('$skiptoken') ? url : undefined;
  // paging-error-handling.md: DirectoryPageTokenNotFoundException for a token taken from a retried request's answer; the walk starts again as for an expired one.
  if (pageUrl === undefined || status !== 400 || !/ExpiredPageToken|InvalidPageToken|DirectoryPageTokenNotFound|skiptoken/i.test(`${code} ${message}`))
    return undefined;
  return createGraphError(GraphErrorCodes.graphPageLinkExpired, { graphCode: code }, { details });
}

/** 404 of SYNC_GROUP_ID's group, 403 (consent), 401 (the token). */
function accessRefused({ status, code, message, details, url }: GraphAnswer, context: GraphErrorContext): SyncError | undefined {
  const read = describeUrl(url);
  if (read.group !== undefined && status === 404) {
    return createGraphError(GraphErrorCodes.groupNotFound, { groupId: read.group, graphCode: code, tenantLabel: context.tenantLabel }, { details });
  }
  if (status === 403) {
    const params = {
      what: read.what,
      graphCode: code,
      group: read.group !== undefined,
      adminConsentUrl: context.adminConsentUrl,
      signInActivity: selectsSignInActivity(url),
    };
    return createGraphError(GraphErrorCodes.graphConsentRequired, params, { details });
  }
  if (status === 401) return createGraphError(GraphErrorCodes.graphTokenRejected, { graphCode: code, graphMessage: message }, { details });
  return undefined;
}

/** Whether the request's $select names signInActivity (Graph reads property names in any case). */
function selectsSignInActivity(url: string): boolean {
  return (new URL(url).searchParams.get('$select') ?? '').split(',').some((f) => f.trim().toLowerCase() === 'signinactivity');
}

/**
 * 501: a property of USER_FIELDS Graph serves only when reading one user (GET /users/{id}), in a
 * list (user-list.md: "returns a 501 Not Implemented error code"). Settings refuse the ones
 * Microsoft documents; this names any other.
 */
function notServedInLists({ status, code, message, details, url }: GraphAnswer): SyncError | undefined {
  if (status !== 501) return undefined;
  return createGraphError(
    GraphErrorCodes.graphBadRequest,
    { problem: 'notInLists', what: describeUrl(url).what, graphCode: code, graphMessage: message },
    { details },
  );
}

/** 400: USER_FILTER refused, a read by id refused, or USER_FIELDS naming what Graph does not know. */
function requestRefused({ status, code, message, details, url, query }: GraphAnswer): SyncError | undefined {
  if (status !== 400) return undefined;
  const read = describeUrl(url);
  const refusal = { graphCode: code, graphMessage: message };
  if (read.filtered && isRangeFilter(query.get('$filter') ?? ''))
    return createGraphError(GraphErrorCodes.graphBadRequest, { problem: 'range', ...refusal }, { details });
  if (read.filtered && !/Could not find a property/i.test(message)) {
    return /^id in \(/.test(query.get('$filter') ?? '')
      ? createGraphError(GraphErrorCodes.graphBadRequest, { problem: 'byId', ...refusal }, { details })
      : createGraphError(GraphErrorCodes.userFilterRefused, refusal, { details });
  }
  return createGraphError(
    GraphErrorCodes.graphBadRequest,
    { problem: 'fields', what: read.what, graphCode: code, graphMessage: message, filtered: read.filtered },
    { details },
  );
}
