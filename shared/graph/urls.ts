/**
 * The Graph URLs a run reads (users, delta, a group's transitive members, users by id) and how
 * one is told back in a message (`describeUrl`, `redact`): no network here.
 */

export const maxGraphPageSize = 999;

/**
 * user-list.md: "When signInActivity is selected or filtered on, the maximum page size is 500"
 * (Graph refuses a larger $top; it once capped it at 120, microsoftgraph/msgraph-sdk-powershell#1898).
 */
export const signInActivityPageSize = 500;

/** The largest page Graph serves for this selection: 500 with signInActivity (any case, as Graph reads names), else 999. */
export function maxPageSizeFor(fields: readonly string[]): number {
  return fields.some((f) => f.toLowerCase() === 'signinactivity') ? signInActivityPageSize : maxGraphPageSize;
}

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

export function usersUrl(baseUrl: string, fields: readonly string[], pageSize: number = maxPageSizeFor(fields), query: UsersQuery = {}): string {
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
  pageSize: number = maxPageSizeFor(fields),
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
export function describeUrl(url: string): {
  readonly what: string;
  readonly group: string | undefined;
  readonly filtered: boolean;
  readonly advanced: boolean;
} {
  const parsed = new URL(url);
  const group = /^\/v1\.0\/groups\/([^/]+)\/transitiveMembers/i.exec(parsed.pathname)?.[1];
  return {
    what: group === undefined ? `GET ${parsed.pathname.replace(/^\/v1\.0/, '')}` : 'GET /groups/{id}/transitiveMembers',
    group: group === undefined ? undefined : decodeURIComponent(group),
    filtered: parsed.searchParams.has('$filter'),
    advanced: parsed.searchParams.get('$count') === 'true',
  };
}

/** A URL for messages: the opaque skip token is long and says nothing to a reader. */
export function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.searchParams.has('$skiptoken')) parsed.searchParams.set('$skiptoken', '…');
  if (parsed.searchParams.has('$deltatoken')) parsed.searchParams.set('$deltatoken', '…');
  return parsed.toString();
}
