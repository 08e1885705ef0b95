import { isSyncError } from '../core';
import { partitionFilters, rangeOfName, type FetchedUsersPage } from '../graph';

/**
 * GRAPH_PARALLEL_READS' ranges (graph/partitions.ts), checked before they are trusted and while
 * they are read. Microsoft's pages disagree on whether Graph takes `ge`/`le` on
 * userPrincipalName, and concepts/aad-advanced-queries.md warns that "query parameters specified
 * in a request might fail silently" and tells to "examine the data returned": a range filter
 * ignored would make every range return every user, the tenant 37 times over. So:
 *
 * - the first page of every range is read and held, and nothing is handed on, until the ranges'
 *   `@odata.count` (each range is an advanced query with $count=true) add up to the count of the
 *   users in scope (graph/partitions.ts scopeCountUrl), and the users those pages hold fall in
 *   their range by the first character of their name where that is unambiguous (an ASCII digit
 *   or letter, case-insensitively: partitions.ts rangeOfName);
 * - every later page is checked the same way before it is handed on.
 *
 * The slack, for both: max(5, 0.1 % of the users in scope). Advanced queries are served from a
 * separate index that is "eventually consistent" (aad-advanced-queries.md), so counts read
 * seconds apart, and a name renamed meanwhile, may be a little off; a range filter Graph ignores
 * is off by 36 times the tenant. A range Graph refuses (400 Request_UnsupportedQuery: "Unsupported
 * or invalid query filter clause specified for property …", same page), counts missing (the
 * same page's example of a silent failure), counts that do not add up, or names outside their
 * range beyond the slack: the walk throws RangesUnusable, and the run reads in one sequential
 * walk instead (walk.ts; the dry run alike).
 */

/** How far the ranges may be off, in count and in names outside their range: max(5, 0.1 % of `users`). */
export function rangeSlack(users: number): number {
  return Math.max(5, Math.ceil(users / 1000));
}

/** The ranges cannot be trusted: why, in words naming no user but by id. */
export class RangesUnusable extends Error {
  override readonly name = 'RangesUnusable';
  constructor(readonly reason: string) {
    super(`The userPrincipalName ranges of GRAPH_PARALLEL_READS cannot be trusted: ${reason}.`);
  }
}

export function isRangesUnusable(error: unknown): error is RangesUnusable {
  return error instanceof RangesUnusable;
}

/** A range's page refused as Graph refuses a filter clause it does not support (400 Request_UnsupportedQuery), as RangesUnusable; else undefined. */
export function refusedRange(error: unknown, range: number): RangesUnusable | undefined {
  if (!isSyncError(error) || error.details['status'] !== 400 || error.details['graphCode'] !== 'Request_UnsupportedQuery') return undefined;
  return new RangesUnusable(`Microsoft Graph refused the range ${describeRange(range)} (400 Request_UnsupportedQuery)`);
}

function describeRange(range: number): string {
  return `"${partitionFilters()[range] ?? String(range)}"`;
}

/** What a partitioned walk has seen of its ranges. */
export class RangeCheck {
  #seen = 0;
  #outside = 0;

  /** `scope`: the users in scope, as Graph counted them before the walk; undefined when a resumed walk did not count them. */
  constructor(readonly scope: number | undefined) {}

  /** A new walk's first page of every range, before any is handed on: the counts add up, the names are inside. */
  firstPages(pages: readonly FetchedUsersPage[]): void {
    const { scope } = this;
    if (scope === undefined) throw new RangesUnusable('Graph gave no @odata.count for the users in scope');
    const missing = pages.findIndex((page) => page.count === undefined);
    if (missing >= 0) throw new RangesUnusable(`Graph gave no @odata.count on the first page of the range ${describeRange(missing)}`);
    const sum = pages.reduce((total, page) => total + (page.count ?? 0), 0);
    if (Math.abs(sum - scope) > rangeSlack(scope))
      throw new RangesUnusable(
        `the ranges' @odata.count add up to ${sum} users where Graph counts ${scope} in scope, more than the ${rangeSlack(scope)} allowed for the index's lag`,
      );
    pages.forEach((page, range) => this.page(page, range));
  }

  /** A page of `range`, before it is handed on: its names outside the range are counted; over the slack, the ranges are unusable. */
  page(page: FetchedUsersPage, range: number): void {
    let outsider: string | undefined;
    for (const entry of page.entries) {
      if (entry.kind !== 'user') continue;
      this.#seen++;
      const name = entry.user.principalName;
      const belongs = name === undefined ? undefined : rangeOfName(name);
      if (belongs === undefined || belongs === range) continue;
      this.#outside++;
      outsider ??= entry.user.id;
    }
    const slack = rangeSlack(Math.max(this.scope ?? 0, this.#seen));
    if (this.#outside > slack)
      throw new RangesUnusable(
        `the range ${describeRange(range)} returned users whose names are outside it (user ${outsider ?? '?'} among them; ${this.#outside} so far, more than the ${slack} allowed)`,
      );
  }
}
