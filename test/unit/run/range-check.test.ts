import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRangeFilter, partitionFilters, RangeCheck, RangesUnusable, rangeOfName, rangeSlack, type FetchedUsersPage } from '../../../shared/internal';

// The check of GRAPH_PARALLEL_READS' ranges (run/range-check.ts, graph/partitions.ts), alone:
// which range a name belongs in, the slack, and what makes the ranges unusable.

/** A page of `names` (ids u0, u1, …), with `count` as its @odata.count. */
function page(names: readonly (string | undefined)[], count?: number): FetchedUsersPage {
  return {
    url: 'https://graph.example/v1.0/users',
    entries: names.map((name, i) => ({
      kind: 'user' as const,
      user: name === undefined ? { id: `u${i}`, properties: { id: `u${i}` } } : { id: `u${i}`, properties: { id: `u${i}` }, principalName: name },
    })),
    nextLink: undefined,
    deltaLink: undefined,
    ...(count === undefined ? {} : { count }),
  };
}

describe('range check', () => {
  it('places a name by its first character when that is an ASCII digit or letter, case-insensitively, and nowhere otherwise', () => {
    const filters = partitionFilters();
    const at = (name: string): string | undefined => {
      const range = rangeOfName(name);
      return range === undefined ? undefined : filters[range];
    };
    assert.equal(at('0zero@x'), "userPrincipalName ge '0' and userPrincipalName le '1'");
    assert.equal(at('9nine@x'), "userPrincipalName ge '9' and userPrincipalName le 'a'");
    assert.equal(at('amy@x'), "userPrincipalName ge 'a' and userPrincipalName le 'b'");
    assert.equal(at('Amy@x'), at('amy@x'));
    assert.equal(at('zoe@x'), "userPrincipalName ge 'z'");
    assert.equal(at('Zoe@x'), "userPrincipalName ge 'z'");
    for (const name of ['_svc@x', '-dash@x', 'émile@x', 'Ämil@x', '中文@x', '.dot@x', '']) assert.equal(rangeOfName(name), undefined, name);
  });

  it('tells the ranges from USER_FILTER', () => {
    assert.ok(partitionFilters().every((f) => isRangeFilter(f)));
    assert.ok(isRangeFilter(`(accountEnabled eq true) and (${partitionFilters()[5] ?? ''})`));
    assert.ok(!isRangeFilter('accountEnabled eq true'));
    assert.ok(!isRangeFilter("userPrincipalName ge 'a'"), "a USER_FILTER of the user's own is not a range");
  });

  it('allows max(5, 0.1 %) for the index lag', () => {
    assert.deepEqual([rangeSlack(0), rangeSlack(700), rangeSlack(5000), rangeSlack(5001), rangeSlack(1_000_000)], [5, 5, 5, 6, 1000]);
  });

  /** First pages of 37 ranges: one user in range 11 ('a'), the rest empty, with counts. */
  function firstPages(counts: readonly (number | undefined)[], names: readonly string[] = ['amy@x']): FetchedUsersPage[] {
    return partitionFilters().map((_, range) => page(range === 11 ? names : [], counts[range]));
  }
  const counted = (scopeCount: number, inA: number): number[] => partitionFilters().map((_, r) => (r === 11 ? inA : r === 20 ? scopeCount - inA : 0));

  it('trusts first pages whose counts add up within the slack and whose names are inside', () => {
    new RangeCheck(1000).firstPages(firstPages(counted(1000, 1)));
    new RangeCheck(1000).firstPages(firstPages(counted(995, 1))); // 5 off: the slack
  });

  it('refuses a missing count, counts off by more than the slack, and the ignored filter', () => {
    const reason = (check: () => void): string => {
      try {
        check();
      } catch (error) {
        assert.ok(error instanceof RangesUnusable);
        return error.reason;
      }
      return assert.fail('trusted');
    };
    assert.match(
      reason(() => new RangeCheck(undefined).firstPages(firstPages(counted(10, 1)))),
      /no @odata\.count for the users in scope/,
    );
    const missing = counted(10, 1) as (number | undefined)[];
    missing[3] = undefined;
    assert.match(
      reason(() => new RangeCheck(10).firstPages(firstPages(missing))),
      /no @odata\.count on the first page of the range "userPrincipalName ge '2' and userPrincipalName le '3'"/,
    );
    assert.match(
      reason(() => new RangeCheck(1000).firstPages(firstPages(counted(994, 1)))),
      /add up to 994 users where Graph counts 1000 in scope, more than the 5 allowed/,
    );
    // Ignored: every range lists every user and counts them all.
    const all = partitionFilters().map(() => page(['amy@x', 'bob@x', 'zoe@x'], 3));
    assert.match(
      reason(() => new RangeCheck(3).firstPages(all)),
      /add up to 111 users where Graph counts 3/,
    );
  });

  it('tolerates names outside their range up to the slack, counted over the walk, then refuses', () => {
    const check = new RangeCheck(100);
    check.page(page(['bob@x', '_svc@x', 'émile@x', 'amy@x']), 11); // one outside; two nobody can place
    for (let i = 0; i < 4; i++) check.page(page(['zed@x']), 11); // five in all: the slack
    assert.throws(
      () => check.page(page(['amy@x', 'yan@x']), 11),
      (error: unknown) => error instanceof RangesUnusable && /user u1 among them; 6 so far, more than the 5 allowed/.test(error.reason),
    );
    const unnamed = new RangeCheck(100);
    for (let i = 0; i < 10; i++) unnamed.page(page([undefined]), 11); // Graph gave no userPrincipalName: nothing to check
  });
});
