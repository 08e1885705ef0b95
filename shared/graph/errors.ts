import { isRestError } from '@azure/core-rest-pipeline';
import { describeCause, isNetworkError, SyncError, SyncErrorCodes } from '../core';
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

/** What a Graph error message names beside the request: where consent is granted, which tenant a group was looked up in. */
export interface GraphErrorContext {
  readonly adminConsentUrl: string;
  readonly tenantLabel?: string | undefined;
}

/**
 * GRAPH_DELTA_LINK_EXPIRED, typed: Graph no longer knows the saved delta link and a full resync
 * is needed. `location` is where Graph said to restart (a 410's Location on Graph's own origin),
 * or undefined; it is also in `details.location`, as before.
 */
export class GraphResyncRequired extends SyncError {
  /** Where to restart the walk (a fresh delta link of the same query), when Graph gave one on its own origin. */
  readonly location: string | undefined;

  constructor(message: string, details: Readonly<Record<string, string | number | boolean | undefined>>, location: string | undefined) {
    super(SyncErrorCodes.graphDeltaLinkExpired, message, { details: { ...details, location } });
    this.location = location;
  }
}

/** Whether the error is Graph's "the delta link is gone, resync" (GRAPH_DELTA_LINK_EXPIRED), with its restart location. */
export function isGraphResyncRequired(error: unknown): error is GraphResyncRequired {
  return error instanceof GraphResyncRequired;
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
    new SyncError(
      SyncErrorCodes.graphRequestFailed,
      `Microsoft Graph answered ${describeUrl(url).what} with ${status} ${code}: ${message}` + (requestId ? ` (request-id ${requestId})` : ''),
      {
        details,
      },
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
  if (!(query.has('$deltatoken') && (status === 410 || (status >= 400 && status < 500 && /^(syncStateNotFound|resyncRequired|syncStateInvalid)$/i.test(code)))))
    return undefined;
  const restart = location !== undefined && new URL(location, url).origin === new URL(url).origin ? new URL(location, url).toString() : undefined;
  return new GraphResyncRequired(
    status === 410
      ? `Microsoft Graph reset the sync state (410 Gone${code === '' ? '' : ` ${code}`}): the delta link can no longer be used and a full resync is needed.`
      : `Microsoft Graph no longer knows the saved delta link (${status} ${code}: delta links expire after about 7 days without a run): a full resync is needed.`,
    details,
    restart,
  );
}

/** A saved page link whose skip token Graph no longer accepts. */
function pageLinkExpired({ status, code, message, details, url, query }: GraphAnswer): SyncError | undefined {
  const pageUrl = query.has('$skiptoken') ? url : undefined;
  if (pageUrl === undefined || status !== 400 || !/ExpiredPageToken|InvalidPageToken|skiptoken/i.test(`${code} ${message}`)) return undefined;
  return new SyncError(SyncErrorCodes.graphPageLinkExpired, `Microsoft Graph refused a page link (400 ${code}): its skip token has expired.`, { details });
}

/** 404 of SYNC_GROUP_ID's group, 403 (consent), 401 (the token). */
function accessRefused({ status, code, message, details, url }: GraphAnswer, context: GraphErrorContext): SyncError | undefined {
  const read = describeUrl(url);
  if (read.group !== undefined && status === 404) {
    return new SyncError(
      SyncErrorCodes.groupNotFound,
      `SYNC_GROUP_ID ${read.group} names no group Microsoft Graph knows (404 ${code}): set it to the object ID of a group in tenant ${context.tenantLabel ?? 'GRAPH_TENANT_ID'} (Entra admin center, Groups, the group's Object ID), or remove it to sync every user.`,
      { details },
    );
  }
  if (status === 403) {
    const signIn = selectsSignInActivity(url);
    const permission =
      (read.group === undefined ? 'User.Read.All' : 'GroupMember.Read.All (to read the members of SYNC_GROUP_ID) besides User.Read.All') +
      (signIn ? ', and AuditLog.Read.All to read signInActivity (USER_FIELDS)' : '');
    return new SyncError(
      SyncErrorCodes.graphConsentRequired,
      `Microsoft Graph denied ${read.what} (403 ${code}): the app needs the application permission ${permission} (Microsoft Graph) with admin consent. ` +
        `An administrator can grant it at ${context.adminConsentUrl}` +
        (signIn ? signInActivityLicense(code) : ''),
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
  return undefined;
}

/** Whether the request's $select names signInActivity (Graph reads property names in any case). */
function selectsSignInActivity(url: string): boolean {
  return (new URL(url).searchParams.get('$select') ?? '').split(',').some((f) => f.trim().toLowerCase() === 'signinactivity');
}

/**
 * What a 403 on signInActivity may mean besides the permission: the tenant lacks a Microsoft
 * Entra ID P1 or P2 license (user.md, signInActivity), which Graph answers with this code.
 */
function signInActivityLicense(code: string): string {
  return /^Authentication_RequestFromNonPremiumTenantOrB2CTenant$/i.test(code)
    ? '. Graph says the tenant has no Microsoft Entra ID P1 or P2 license (or is an Azure AD B2C tenant), which reading signInActivity needs: license the tenant, or remove signInActivity from USER_FIELDS.'
    : '. Reading signInActivity also needs a Microsoft Entra ID P1 or P2 license in the tenant.';
}

/**
 * 501: a property of USER_FIELDS Graph serves only when reading one user (GET /users/{id}), in a
 * list (user-list.md: "returns a 501 Not Implemented error code"). Settings refuse the ones
 * Microsoft documents; this names any other.
 */
function notServedInLists({ status, code, message, details, url }: GraphAnswer): SyncError | undefined {
  if (status !== 501) return undefined;
  return new SyncError(
    SyncErrorCodes.graphBadRequest,
    `Microsoft Graph cannot answer ${describeUrl(url).what} with these USER_FIELDS (501 ${code}: ${message}): Graph returns some user properties only when reading one user (GET /users/{id}), never in a list; remove them from USER_FIELDS.`,
    { details },
  );
}

/** 400: USER_FILTER refused, a read by id refused, or USER_FIELDS naming what Graph does not know. */
function requestRefused({ status, code, message, details, url, query }: GraphAnswer): SyncError | undefined {
  if (status !== 400) return undefined;
  const read = describeUrl(url);
  if (read.filtered && !/Could not find a property/i.test(message)) {
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
  return new SyncError(
    SyncErrorCodes.graphBadRequest,
    `Microsoft Graph refused ${read.what} (400 ${code}: ${message}): check USER_FIELDS lists Graph user properties${read.filtered ? ' and USER_FILTER names them' : ''}.`,
    { details },
  );
}
