import { usersUrl, type UsersQuery } from './urls';

/**
 * Full mode's parallel read (GRAPH_PARALLEL_READS above 1): /users split into ranges of
 * userPrincipalName, each a walk of its own, several walked at once. Graph pages one query
 * sequentially (a page of 999 users takes about a second), so a million users take about 17
 * minutes in one walk; ranges read side by side take that divided by the parallelism.
 *
 * The ranges are cut at the boundaries '0'…'9', 'a'…'z' with `ge` and `le` (Graph supports both on
 * userPrincipalName; they are sent as advanced queries):
 *
 *   userPrincipalName le '0'
 *   userPrincipalName ge '0' and userPrincipalName le '1'
 *   …
 *   userPrincipalName ge 'z'
 *
 * A boundary has no '@', so no UPN equals one: whatever order Graph compares in, each user is in
 * exactly one range, those whose name starts with a character no boundary names ('_', '-', 'ä',
 * a digit) included. Graph's own $filter is used rather than client-side splitting because only
 * Graph can read a range without reading the rest.
 *
 * Microsoft's pages disagree on whether Graph takes `ge`/`le` on userPrincipalName
 * (resources/user.md lists them; the generated table in concepts/aad-advanced-queries.md leaves
 * the cell blank, "not valid"), and that page warns that "query parameters specified in a request
 * might fail silently": so the run checks the split before it trusts it (run/range-check.ts),
 * with each range's `@odata.count` and the first character of every name a range returns. Each
 * range selects userPrincipalName for that, whether USER_FIELDS does or not.
 */

export const partitionBoundaries: readonly string[] = Array.from({ length: 36 }, (_, i) => i.toString(36));

/** The $filter of each range, in order. */
export function partitionFilters(boundaries: readonly string[] = partitionBoundaries): string[] {
  const upn = 'userPrincipalName';
  const filters = [`${upn} le '${boundaries[0] ?? ''}'`];
  for (let i = 0; i + 1 < boundaries.length; i++) filters.push(`${upn} ge '${boundaries[i] ?? ''}' and ${upn} le '${boundaries[i + 1] ?? ''}'`);
  filters.push(`${upn} ge '${boundaries.at(-1) ?? ''}'`);
  return filters;
}

/** Where one range of a walk stands: its first page, the next page not yet accepted, and whether it is done. */
export interface PartitionState {
  readonly start: string;
  readonly next: string | null;
  readonly done: boolean;
}

/** The first page of each range, with USER_FILTER (if any) and'ed to it; all advanced queries, selecting userPrincipalName too. */
export function partitionStarts(baseUrl: string, fields: readonly string[], query: Pick<UsersQuery, 'filter'> = {}): PartitionState[] {
  const selected = fields.includes(principalName) ? fields : [...fields, principalName];
  return partitionFilters().map((range) => ({
    start: usersUrl(baseUrl, selected, undefined, { filter: andRange(query.filter, range), advanced: true }),
    next: null,
    done: false,
  }));
}

const principalName = 'userPrincipalName';

function andRange(filter: string | undefined, range: string): string {
  return filter === undefined ? range : `(${filter}) and (${range})`;
}

/**
 * The range a user principal name belongs in by its first character, where that is unambiguous:
 * an ASCII digit or letter (case-insensitively: the directory compares names so). undefined for
 * any other first character, whose place depends on Graph's collation ('_', '-', 'ä', '中').
 */
export function rangeOfName(name: string): number | undefined {
  const first = name.charAt(0).toLowerCase();
  const index = /^[0-9a-z]$/.test(first) ? partitionBoundaries.indexOf(first) : -1;
  // Range 0 is `le '0'`; a name starting with boundary i is above it and below boundary i + 1.
  return index < 0 ? undefined : index + 1;
}

/** Whether a $filter is one of the ranges (alone, or with USER_FILTER and'ed before it). */
export function isRangeFilter(filter: string): boolean {
  return partitionFilters().some((range) => filter === range || filter.endsWith(`) and (${range})`));
}

/**
 * What the ranges are checked against: the number of users in scope (USER_FILTER's, or the
 * tenant's) as Graph counts them, in an advanced query of one user (`@odata.count`, user-list.md),
 * so from the same index as the ranges' own counts.
 */
export function scopeCountUrl(baseUrl: string, query: Pick<UsersQuery, 'filter'> = {}): string {
  return usersUrl(baseUrl, ['id'], 1, { filter: query.filter, advanced: true });
}
