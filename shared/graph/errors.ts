import { type ErrorMessages, type MessageParams, SyncError, SyncErrorCodes, type SyncErrorOptions, messageOf } from '../core';

/**
 * The graph family of errors (see core/sync-error.ts for how families work): what a page request
 * that failed or was refused means (failures.ts maps Graph's answers), and a body the sync cannot
 * read (pages.ts, users.ts; also a group's members and the latest delta link, read by state/ and
 * run/). GRAPH_DELTA_LINK_EXPIRED is the typed GraphResyncRequired.
 */

export const GraphErrorCodes = {
  graphConsentRequired: SyncErrorCodes.graphConsentRequired,
  graphTokenRejected: SyncErrorCodes.graphTokenRejected,
  graphBadRequest: SyncErrorCodes.graphBadRequest,
  graphRequestFailed: SyncErrorCodes.graphRequestFailed,
  graphUnreachable: SyncErrorCodes.graphUnreachable,
  graphResponseInvalid: SyncErrorCodes.graphResponseInvalid,
  graphPageLinkExpired: SyncErrorCodes.graphPageLinkExpired,
  graphDeltaLinkExpired: SyncErrorCodes.graphDeltaLinkExpired,
  groupNotFound: SyncErrorCodes.groupNotFound,
  userFilterRefused: SyncErrorCodes.userFilterRefused,
} as const;

export type GraphErrorCode = (typeof GraphErrorCodes)[keyof typeof GraphErrorCodes];

/** Graph's own error code and message of a refused request. */
interface Refusal {
  readonly graphCode: string;
  readonly graphMessage: string;
}

export type RequestFailedParams =
  /** `url` already redacted; `causeText` the pipeline's error described. */
  | { readonly problem: 'noAnswer'; readonly url: string; readonly causeText: string }
  /** `what`: the read described ("GET /users", "the members of group …"). */
  | (Refusal & { readonly problem: 'answered'; readonly what: string; readonly status: number; readonly requestId: string | undefined });

export type BadRequestParams =
  | (Refusal & { readonly problem: 'byId' })
  /** The userPrincipalName ranges of GRAPH_PARALLEL_READS, not USER_FILTER (which may not even be set). */
  | (Refusal & { readonly problem: 'range' })
  | (Refusal & { readonly problem: 'fields'; readonly what: string; readonly filtered: boolean })
  | (Refusal & { readonly problem: 'notInLists'; readonly what: string });

/** What in a Graph body cannot be read; `index` is the entry's position in its page (or in the member list). */
export type ResponseInvalidParams =
  | { readonly problem: 'foreignNextLink'; readonly host: string; readonly origin: string }
  | { readonly problem: 'notJson'; readonly origin: string }
  | { readonly problem: 'noValue' }
  | { readonly problem: 'linkNotString'; readonly name: string }
  | { readonly problem: 'entryNotObject' | 'entryWithoutId' | 'removedWithoutReason' | 'memberNotGuid'; readonly index: number }
  | { readonly problem: 'noLatestDeltaLink' };

function requestFailed(p: RequestFailedParams): string {
  if (p.problem === 'noAnswer') return `GET ${p.url} failed: ${p.causeText}`;
  return `Microsoft Graph answered ${p.what} with ${p.status} ${p.graphCode}: ${p.graphMessage}` + (p.requestId ? ` (request-id ${p.requestId})` : '');
}

function badRequest(p: BadRequestParams): string {
  if (p.problem === 'byId') return `Microsoft Graph refused to read users by id (400 ${p.graphCode}: ${p.graphMessage}).`;
  if (p.problem === 'range')
    return `Microsoft Graph refused the userPrincipalName range filter of GRAPH_PARALLEL_READS (400 ${p.graphCode}: ${p.graphMessage}): set GRAPH_PARALLEL_READS=1 to read the users in one sequential walk.`;
  if (p.problem === 'notInLists')
    return `Microsoft Graph cannot answer ${p.what} with these USER_FIELDS (501 ${p.graphCode}: ${p.graphMessage}): Graph returns some user properties only when reading one user (GET /users/{id}), never in a list; remove them from USER_FIELDS.`;
  return `Microsoft Graph refused ${p.what} (400 ${p.graphCode}: ${p.graphMessage}): check USER_FIELDS lists Graph user properties${p.filtered ? ' and USER_FILTER names them' : ''}.`;
}

function responseInvalid(p: ResponseInvalidParams): string {
  switch (p.problem) {
    case 'foreignNextLink':
      return `Graph returned an @odata.nextLink on another host (${p.host}, expected ${p.origin}); refusing to follow it.`;
    case 'notJson':
      return `Graph answered GET /users with a body that is not JSON: check GRAPH_BASE_URL (${p.origin}).`;
    case 'noValue':
      return 'Graph answered GET /users without a "value" array: check GRAPH_BASE_URL points at Microsoft Graph.';
    case 'linkNotString':
      return `Graph answered GET /users with an ${p.name} that is not a string.`;
    case 'entryNotObject':
      return `Graph returned a user entry that is not an object (position ${p.index} of its page).`;
    case 'entryWithoutId':
      return `Graph returned a user without an id (position ${p.index} of its page).`;
    case 'removedWithoutReason':
      return `Graph returned an @removed entry without a reason (position ${p.index} of its page).`;
    case 'memberNotGuid':
      return `Graph listed a group member whose id is not a GUID (position ${p.index}).`;
    case 'noLatestDeltaLink':
      return 'Graph answered /users/delta?$deltatoken=latest without an @odata.deltaLink.';
  }
}

function consentRequired(p: {
  readonly what: string;
  readonly graphCode: string;
  readonly group: boolean;
  readonly adminConsentUrl: string;
  /** USER_FIELDS selects signInActivity: AuditLog.Read.All and a P1/P2 license too. */
  readonly signInActivity?: boolean;
}): string {
  const permission =
    (p.group ? 'GroupMember.Read.All (to read the members of SYNC_GROUP_ID) besides User.Read.All' : 'User.Read.All') +
    (p.signInActivity === true ? ', and AuditLog.Read.All to read signInActivity (USER_FIELDS)' : '');
  return (
    `Microsoft Graph denied ${p.what} (403 ${p.graphCode}): the app needs the application permission ${permission} (Microsoft Graph) with admin consent. ` +
    `An administrator can grant it at ${p.adminConsentUrl}` +
    (p.signInActivity === true ? signInActivityLicense(p.graphCode) : '')
  );
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

function deltaLinkExpired({ status, graphCode }: { readonly status: number; readonly graphCode: string }): string {
  return status === 410
    ? `Microsoft Graph reset the sync state (410 Gone${graphCode === '' ? '' : ` ${graphCode}`}): the delta link can no longer be used and a full resync is needed.`
    : `Microsoft Graph no longer knows the saved delta link (${status} ${graphCode}: delta links expire after about 7 days without a run): a full resync is needed.`;
}

export const GraphErrorMessages = {
  [GraphErrorCodes.graphUnreachable]: (p: { readonly origin: string; readonly causeText: string }) =>
    `Could not reach Microsoft Graph at ${p.origin} (setting GRAPH_BASE_URL): ${p.causeText}`,
  [GraphErrorCodes.graphRequestFailed]: requestFailed,
  [GraphErrorCodes.graphResponseInvalid]: responseInvalid,
  [GraphErrorCodes.graphDeltaLinkExpired]: deltaLinkExpired,
  [GraphErrorCodes.graphPageLinkExpired]: (p: { readonly graphCode: string }) =>
    `Microsoft Graph refused a page link (400 ${p.graphCode}): its skip token has expired.`,
  /** `tenantLabel`: the tenant the group was looked up in, when known. */
  [GraphErrorCodes.groupNotFound]: (p: { readonly groupId: string; readonly graphCode: string; readonly tenantLabel: string | undefined }) =>
    `SYNC_GROUP_ID ${p.groupId} names no group Microsoft Graph knows (404 ${p.graphCode}): set it to the object ID of a group in tenant ${p.tenantLabel ?? 'GRAPH_TENANT_ID'} ` +
    `(Entra admin center, Groups, the group's Object ID), or remove it to sync every user.`,
  [GraphErrorCodes.graphConsentRequired]: consentRequired,
  [GraphErrorCodes.graphTokenRejected]: (p: Refusal) =>
    `Microsoft Graph rejected the app-only token (401 ${p.graphCode}: ${p.graphMessage}): check GRAPH_BASE_URL and AUTHORITY_HOST belong to the same cloud.`,
  [GraphErrorCodes.userFilterRefused]: (p: Refusal) =>
    `Microsoft Graph refused USER_FILTER (400 ${p.graphCode}: ${p.graphMessage}): check the filter's property names, operators and quoting against Graph's $filter support for users ` +
    `(https://learn.microsoft.com/graph/aad-advanced-queries); ne, not and endsWith are sent as advanced queries already.`,
  [GraphErrorCodes.graphBadRequest]: badRequest,
} satisfies ErrorMessages<GraphErrorCode>;

type ResyncParams = MessageParams<typeof GraphErrorMessages, typeof GraphErrorCodes.graphDeltaLinkExpired>;

/** A SyncError of the graph family, its message from GraphErrorMessages (GRAPH_DELTA_LINK_EXPIRED: createGraphResyncRequired). */
export function createGraphError<C extends Exclude<GraphErrorCode, typeof GraphErrorCodes.graphDeltaLinkExpired>>(
  code: C,
  params: MessageParams<typeof GraphErrorMessages, C>,
  options: SyncErrorOptions = {},
): SyncError {
  return new SyncError(code, messageOf(GraphErrorMessages, code, params), options);
}

/**
 * GRAPH_DELTA_LINK_EXPIRED, typed: Graph no longer knows the saved delta link and a full resync
 * is needed. `location` is where Graph said to restart (a 410's Location on Graph's own origin),
 * or undefined; it is also in `details.location`, as before.
 */
export class GraphResyncRequired extends SyncError {
  /** Where to restart the walk (a fresh delta link of the same query), when Graph gave one on its own origin. */
  readonly location: string | undefined;

  constructor(params: ResyncParams, details: Readonly<Record<string, string | number | boolean | undefined>>, location: string | undefined) {
    super(GraphErrorCodes.graphDeltaLinkExpired, messageOf(GraphErrorMessages, GraphErrorCodes.graphDeltaLinkExpired, params), {
      details: { ...details, location },
    });
    this.location = location;
  }
}

/** A GraphResyncRequired, its message from GraphErrorMessages. */
export function createGraphResyncRequired(
  params: ResyncParams,
  details: Readonly<Record<string, string | number | boolean | undefined>>,
  location: string | undefined,
): GraphResyncRequired {
  return new GraphResyncRequired(params, details, location);
}

/** Whether the error is Graph's "the delta link is gone, resync" (GRAPH_DELTA_LINK_EXPIRED), with its restart location. */
export function isGraphResyncRequired(error: unknown): error is GraphResyncRequired {
  return error instanceof GraphResyncRequired;
}
