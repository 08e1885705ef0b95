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

/** The first page of each range, with USER_FILTER (if any) and'ed to it; all advanced queries. */
export function partitionStarts(baseUrl: string, fields: readonly string[], query: Pick<UsersQuery, 'filter'> = {}): PartitionState[] {
  return partitionFilters().map((range) => ({
    start: usersUrl(baseUrl, fields, undefined, { filter: query.filter === undefined ? range : `(${query.filter}) and (${range})`, advanced: true }),
    next: null,
    done: false,
  }));
}
