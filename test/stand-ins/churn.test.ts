import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { churnedProperties, summarizeChurn, type ChurnChange, type ChurnKind } from '../../local/churn';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { prng, type SeedUser } from '../../local/stand-ins/seed';
import { appToken, setProperties, walkDelta, type DeltaEntry } from '../helpers/graph-delta-client';

// Random directory churn on the Graph stand-in, and what a delta query then reports of it.
const select = 'id,displayName,mail,jobTitle,department,mobilePhone,officeLocation';

describe('summarizeChurn', () => {
  const changes = (kind: ChurnKind, n: number): ChurnChange[] => Array.from({ length: n }, (_, i) => ({ kind, id: `${kind}-${i}` }));

  it('counts each kind in a fixed order', () => {
    const all = [...changes('hardDeleted', 2), ...changes('added', 3), ...changes('restored', 1), ...changes('updated', 4), ...changes('softDeleted', 2)];
    assert.equal(summarizeChurn(all), '12 changes: 4 updated, 3 added, 2 soft-deleted, 1 restored, 2 hard-deleted');
  });

  it('leaves out the kinds not made, and says "1 change" and "0 changes"', () => {
    assert.equal(summarizeChurn(changes('added', 3)), '3 changes: 3 added');
    assert.equal(summarizeChurn(changes('restored', 1)), '1 change: 1 restored');
    assert.equal(summarizeChurn([]), '0 changes');
  });
});

describe('Graph stand-in churn', () => {
  let stack: LocalStack;
  let token: string;

  before(async () => {
    stack = await startLocalStack({ users: 0 });
    token = await appToken(stack);
  });
  after(() => stack.stop());
  beforeEach(() => stack.faults.clear());

  /** A new directory of `count` users of which the first `softDeleted` are soft-deleted; returns those. */
  function directory(count: number, softDeleted: number, seed = 20261121): Set<string> {
    const users = stack.graph.seed(count, seed);
    const removed = users.slice(0, softDeleted).map((u) => u.id);
    for (const id of removed) stack.graph.softDeleteUser(id);
    return new Set(removed);
  }

  async function walk(link: string, prefer?: string): Promise<{ entries: DeltaEntry[]; deltaLink: string }> {
    const { pages, deltaLink } = await walkDelta(link, token, prefer);
    return { entries: pages.flat(), deltaLink };
  }
  /** Every selected property that is set (id is selected). */
  const full = (user: SeedUser): Record<string, unknown> => setProperties(user, select);
  const byId = (entries: readonly Record<string, unknown>[]): Record<string, unknown>[] =>
    [...entries].sort((a, b) => String(a['id']).localeCompare(String(b['id'])));

  it('makes the changes it reports, in about the set shares, never changing a user twice', () => {
    directory(2000, 300);
    const before = new Map(stack.graph.users.map((u) => [u.id, u]));
    const changes = stack.graph.churn(1000, prng(1));
    assert.equal(changes.length, 1000);
    assert.equal(new Set(changes.map((c) => c.id)).size, 1000, 'one change per user');

    const shares: Record<ChurnKind, number> = { updated: 0.3, added: 0.25, softDeleted: 0.2, restored: 0.1, hardDeleted: 0.15 };
    for (const [kind, share] of Object.entries(shares)) {
      const made = changes.filter((c) => c.kind === kind).length / changes.length;
      assert.ok(Math.abs(made - share) < 0.04, `${kind}: ${made}, not about ${share}`);
    }

    const active = new Map(stack.graph.users.map((u) => [u.id, u]));
    for (const change of changes) {
      const now = active.get(change.id);
      if (change.kind === 'softDeleted' || change.kind === 'hardDeleted') assert.equal(now, undefined, `${change.kind} ${change.id} is still listed`);
      else assert.ok(now, `${change.kind} ${change.id} is not listed`);
      if (change.kind === 'restored') assert.equal(before.get(change.id), undefined, 'only a soft-deleted user is restored');
      if (change.kind !== 'updated') {
        assert.equal(change.fields, undefined);
        continue;
      }
      const was = before.get(change.id);
      assert.ok(was && now);
      const fields = change.fields ?? [];
      assert.ok(fields.length === 1 || fields.length === 2, `${fields.length} fields`);
      for (const f of fields) assert.ok((churnedProperties as readonly string[]).includes(f), f);
      const differs = Object.keys(was).filter(
        (k) => JSON.stringify((was as unknown as Record<string, unknown>)[k]) !== JSON.stringify((now as unknown as Record<string, unknown>)[k]),
      );
      assert.deepEqual(differs.sort(), [...fields].sort(), 'exactly the fields it names changed');
      for (const f of fields) assert.notEqual((now as unknown as Record<string, unknown>)[f], null);
    }
  });

  it('is the same churn for the same seed on the same directory (but for added users, whose ids are new)', () => {
    const run = (): unknown[] => {
      directory(300, 30, 5);
      return stack.graph.churn(120, prng(9)).map((c) => {
        if (c.kind === 'added') return { kind: c.kind };
        const user = stack.graph.users.find((u) => u.id === c.id);
        return { ...c, values: c.fields?.map((f) => (user as unknown as Record<string, unknown> | undefined)?.[f]) };
      });
    };
    const first = run();
    assert.deepEqual(run(), first);
    assert.notDeepEqual((directory(300, 30, 5), stack.graph.churn(120, prng(10))), first);
  });

  it('only adds when no active user is left to change; restores become updates when none is soft-deleted', () => {
    directory(0, 0);
    const onEmpty = stack.graph.churn(5, prng(3));
    assert.deepEqual(
      onEmpty.map((c) => c.kind),
      ['added', 'added', 'added', 'added', 'added'],
    );
    assert.equal(new Set(onEmpty.map((c) => c.id)).size, 5);
    assert.equal(stack.graph.users.length, 5);

    directory(3, 3);
    assert.deepEqual(
      stack.graph.churn(4, prng(4)).map((c) => c.kind),
      ['added', 'added', 'added', 'added'],
      'soft-deleted users only: adds',
    );

    directory(500, 0);
    const kinds = new Set(stack.graph.churn(200, prng(5)).map((c) => c.kind));
    assert.ok(!kinds.has('restored') && kinds.has('updated'));
    assert.deepEqual(stack.graph.churn(0, prng(5)), []);
    assert.throws(() => stack.graph.churn(-1, prng(5)), RangeError);
  });

  it('a deltaLink from before the churn gives exactly one entry per change', async () => {
    let restoredEarlier = 0;
    let hardDeletedEarlier = 0;
    for (const seed of [1, 2, 3, 4, 5]) {
      const softDeletedEarlier = directory(80, 12, seed);
      const { deltaLink } = await walk(`${stack.graph.url}/v1.0/users/delta?$select=${select}`);
      const changes = stack.graph.churn(40, prng(seed));
      const { entries } = await walk(deltaLink, 'odata.maxpagesize=7');

      const active = new Map(stack.graph.users.map((u) => [u.id, u]));
      const expected = changes.map((c): Record<string, unknown> => {
        switch (c.kind) {
          case 'softDeleted':
            return { id: c.id, '@removed': { reason: 'changed' } };
          case 'hardDeleted':
            return { id: c.id, '@removed': { reason: 'deleted' } };
          default: {
            const user = active.get(c.id);
            assert.ok(user, `${c.kind} ${c.id} is not listed`);
            return full(user);
          }
        }
      });
      assert.equal(entries.length, changes.length, summarizeChurn(changes));
      assert.deepEqual(byId(entries), byId(expected), summarizeChurn(changes));

      // Users soft-deleted before the link was issued: a restore comes back whole, and a hard
      // delete is reported as @removed deleted (the link holder knew the user: it was added before).
      restoredEarlier += changes.filter((c) => c.kind === 'restored' && softDeletedEarlier.has(c.id)).length;
      hardDeletedEarlier += changes.filter((c) => c.kind === 'hardDeleted' && softDeletedEarlier.has(c.id)).length;
    }
    assert.ok(restoredEarlier > 0 && hardDeletedEarlier > 0, `restored ${restoredEarlier}, hard-deleted ${hardDeletedEarlier} of the earlier soft-deleted`);
  });
});
