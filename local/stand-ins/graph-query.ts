import { compileUserFilter, GraphQueryError, unsupportedClause, type PrincipalNameRanges, type UserFilter } from './graph-filter';
import { defaultSelect, selectsSignInActivity, signInActivity, signInActivityMaxPageSize, singleUserProperties, userProperties } from './user-schema';

/**
 * The query options of a users listing on the Graph stand-in ($select, $top, $count, $filter) and
 * Graph's rules for advanced queries: `$count=true` needs the `ConsistencyLevel: eventual` header
 * (400 Request_BadRequest "$count is not currently supported." without it, as Graph answers it
 * although its docs say the option is ignored), and a filter with ne, not or endswith needs both
 * (400 Request_UnsupportedQuery otherwise). Checked on every request, nextLinks included: a nextLink
 * carries the query, so following it without the header gets what the first request would have.
 */

export const defaultPageSize = 100;

export interface Selection {
  fields: readonly string[];
  /** $select as received; null without it. */
  select: string | null;
}

export interface ListingQuery extends Selection {
  top: number;
  /** $top as received; null without it. */
  topText: string | null;
  filter: UserFilter | undefined;
  /** $count=true, with the ConsistencyLevel header (an advanced query): the pages carry @odata.count. */
  count: boolean;
}

/**
 * $select of a list of users: Graph's default selection without it; 501 NotImplemented for a
 * property Graph serves only for one user (user-schema.ts), 400 Request_BadRequest for a property
 * the user does not have.
 */
export function readSelection(url: URL): Selection {
  const select = url.searchParams.get('$select');
  const fields =
    select === null
      ? defaultSelect
      : select
          .split(',')
          .map((f) => f.trim())
          .filter((f) => f !== '');
  if (fields.some((f) => singleUserProperties.has(f.toLowerCase())))
    throw new GraphQueryError(501, 'NotImplemented', 'This operation target is not yet supported.');
  const unknown = fields.find((f) => !userProperties.has(f) && f !== signInActivity);
  if (unknown !== undefined)
    throw new GraphQueryError(400, 'Request_BadRequest', `Could not find a property named '${unknown}' on type 'microsoft.graph.user'.`);
  return { fields, select };
}

/**
 * $select of /users/delta: readSelection's, and signInActivity refused with 400 BadRequest, the
 * answer seen from Graph (microsoftgraph/microsoft-graph-explorer-v4#3189; user-delta.md is silent).
 */
export function readDeltaSelection(url: URL): Selection {
  const selection = readSelection(url);
  if (selectsSignInActivity(selection.fields))
    throw new GraphQueryError(
      400,
      'BadRequest',
      `Invalid request for delta query: for this entity set, $expand/$select is not supported for the following properties: ${signInActivity}`,
    );
  return selection;
}

/**
 * $top: 1 to 999 (500 when `fields` selects signInActivity), 100 without it; 400 otherwise. Over
 * 500 with signInActivity: status and code are not documented; the message is the one Graph gave
 * when the cap was 120 (microsoftgraph/msgraph-sdk-powershell#1898), with 500.
 */
export function readTop(url: URL, fields: readonly string[] = []): { top: number; topText: string | null } {
  const topText = url.searchParams.get('$top');
  const top = topText === null ? defaultPageSize : Number(topText);
  if (!Number.isInteger(top) || top < 1 || top > 999) {
    throw new GraphQueryError(400, 'Request_UnsupportedQuery', `Invalid page size specified: '${topText ?? ''}'. Must be between 1 and 999 inclusive.`);
  }
  if (top > signInActivityMaxPageSize && selectsSignInActivity(fields))
    throw new GraphQueryError(400, 'BadRequest', `Cannot query data for more than ${signInActivityMaxPageSize} users at a time.`);
  return { top, topText };
}

/** Whether the request's ConsistencyLevel header says eventual. */
export function isEventual(header: string | string[] | undefined): boolean {
  return [header ?? []].flat().some((value) => value.trim().toLowerCase() === 'eventual');
}

/** $count: true only with the ConsistencyLevel header (then an advanced query); false when absent or false. */
function readCount(url: URL, eventual: boolean): boolean {
  const text = url.searchParams.get('$count');
  if (text === null || text.toLowerCase() === 'false') return false;
  if (text.toLowerCase() !== 'true')
    throw new GraphQueryError(400, 'BadRequest', `Invalid value '${text}' for the query option $count: true or false expected.`);
  if (!eventual) throw new GraphQueryError(400, 'Request_BadRequest', '$count is not currently supported.');
  return true;
}

/** GET /v1.0/users with $filter or $count. */
export function readUsersQuery(url: URL, consistencyLevel: string | string[] | undefined, principalNameRanges: PrincipalNameRanges = 'honoured'): ListingQuery {
  const selection = readSelection(url);
  const top = readTop(url, selection.fields);
  const count = readCount(url, isEventual(consistencyLevel));
  const filterText = url.searchParams.get('$filter');
  const filter = filterText === null ? undefined : compileUserFilter(filterText, principalNameRanges);
  if (filter?.advancedProperty !== undefined && !count) throw unsupportedClause(filter.advancedProperty);
  return { ...selection, ...top, filter, count };
}

/** GET /v1.0/groups/{id}/transitiveMembers/microsoft.graph.user: the type cast is an advanced query. */
export function readTransitiveMembersQuery(url: URL, consistencyLevel: string | string[] | undefined): ListingQuery {
  if (!isEventual(consistencyLevel) || url.searchParams.get('$count')?.toLowerCase() !== 'true') {
    throw new GraphQueryError(
      400,
      'Request_UnsupportedQuery',
      "The type cast 'microsoft.graph.user' on the 'transitiveMembers' relationship is only supported as an advanced query: add the header ConsistencyLevel: eventual and $count=true.",
    );
  }
  return readUsersQuery(url, consistencyLevel);
}

/** The query of a nextLink: the request's own options, then the new $skiptoken. */
export function nextLinkQuery(query: ListingQuery, skipToken: string): string {
  return [
    query.select === null ? undefined : `$select=${query.select}`,
    query.topText === null ? undefined : `$top=${query.topText}`,
    query.filter === undefined ? undefined : `$filter=${encodeURIComponent(query.filter.text)}`,
    query.count ? '$count=true' : undefined,
    `$skiptoken=${skipToken}`,
  ]
    .filter((q) => q !== undefined)
    .join('&');
}

/**
 * A list that selects signInActivity (not /users/delta, which refuses the selection itself): 403
 * without the application permission AuditLog.Read.All (Graph's answer to a missing permission,
 * as for User.Read.All), or, in a tenant without a Microsoft Entra ID P1 or P2 license, Graph's
 * Authentication_RequestFromNonPremiumTenantOrB2CTenant (microsoftgraph/microsoft-graph-docs#12772).
 */
export function signInActivityDenied(url: URL, roles: readonly string[], licensed: boolean): readonly [string, string] | undefined {
  const fields = (url.searchParams.get('$select') ?? '').split(',').map((f) => f.trim());
  if (url.pathname.replace(/\/$/, '').endsWith('/delta') || !selectsSignInActivity(fields)) return undefined;
  if (!roles.includes('AuditLog.Read.All')) return ['Authorization_RequestDenied', 'Insufficient privileges to complete the operation.'];
  if (!licensed) return ['Authentication_RequestFromNonPremiumTenantOrB2CTenant', "Neither tenant is B2C or tenant doesn't have premium license"];
  return undefined;
}
