import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { syncUsersHandler } from '../../functions/sync-users/handler';
import { partitionFilters } from '../../shared/internal';
import type { LocalStack } from '../../local/stack';
import { applySettings, drainQueueSplit, startStackForTests, testContext, timer } from '../helpers/stack';

// GRAPH_PARALLEL_READS (issue 13): full mode reads /users in ranges of userPrincipalName, several
// at once. The proof that matters: the ranges hold exactly the users one sequential walk reads,
// none missed, none twice, whatever the first character of their name.
describe('full mode, partitioned read', () => {
  let stack: LocalStack;
  before(async () => {
    stack = await startStackForTests();
  });
  after(() => stack.stop());

  it('cuts 37 ranges at 0-9 and a-z with ge/le, boundaries that no user principal name can equal', () => {
    const filters = partitionFilters();
    assert.equal(filters.length, 37);
    assert.equal(filters[0], "userPrincipalName le '0'");
    assert.equal(filters[1], "userPrincipalName ge '0' and userPrincipalName le '1'");
    assert.equal(filters.at(-1), "userPrincipalName ge 'z'");
  });

  it('yields exactly the users of the sequential walk, those whose name starts with a character no range names included', async () => {
    stack.graph.seed(2600);
    const odd = [
      '_svc.payments',
      '-dash',
      'Ämil.berg',
      'émile',
      '0zero',
      '9nine',
      'Zed.Upper',
      'z',
      'zzz',
      '~tilde',
      '.dot',
      'a',
      '0',
      '中文',
      '@leading',
      "o'brien",
    ];
    for (const name of odd) stack.graph.addUser({ userPrincipalName: `${name}@contoso.example` });
    const everyone = stack.graph.users.map((u) => u.id).sort();

    const read = async (parallel: string): Promise<string[]> => {
      const queue = `partitions-${parallel}-${randomUUID().slice(0, 6)}`;
      applySettings(stack, { SYNC_MODE: 'full', USERS_QUEUE_NAME: queue, GRAPH_PARALLEL_READS: parallel, SYNC_MAX_REMOVALS: '10000' });
      const summary = await syncUsersHandler(timer(), testContext().context);
      const { users, markers } = await drainQueueSplit(stack.azurite.connectionString, queue);
      assert.deepEqual(
        markers.map((m) => m.snapshot.users),
        [everyone.length],
      );
      assert.equal(summary.snapshots, everyone.length);
      return users.map((m) => m.user.id as string).sort();
    };
    const before = stack.graph.requestLog.length;
    const sequential = await read('1');
    const sequentialRequests = stack.graph.requestLog.slice(before);
    assert.ok(
      sequentialRequests.every((u) => !u.includes('$filter')),
      'one walk, no ranges',
    );
    const ranged = stack.graph.requestLog.length;
    const partitioned = await read('4');
    const rangeRequests = stack.graph.requestLog.slice(ranged).filter((u) => u.startsWith('/v1.0/users?'));

    assert.deepEqual(sequential, everyone);
    assert.deepEqual(partitioned, everyone, 'none missed, none twice');
    assert.equal(rangeRequests.length, 1 + 37, 'the count of the users in scope, then one page per range here (at most 999 users each)');
    assert.match(rangeRequests[0] ?? '', /^\/v1\.0\/users\?\$select=id&\$top=1&\$count=true$/, 'the count first, to check the ranges against');
    assert.ok(
      rangeRequests.every((u) => u.includes('$count=true')),
      'each range an advanced query',
    );
  });

  it('ands USER_FILTER to each range', async () => {
    stack.graph.seed(400);
    const enabled = stack.graph.users
      .filter((u) => u.accountEnabled)
      .map((u) => u.id)
      .sort();
    const queue = `partitions-filter-${randomUUID().slice(0, 6)}`;
    applySettings(stack, {
      SYNC_MODE: 'full',
      USERS_QUEUE_NAME: queue,
      GRAPH_PARALLEL_READS: '8',
      USER_FILTER: 'accountEnabled eq true',
      SYNC_MAX_REMOVALS: '10000',
    });
    await syncUsersHandler(timer(), testContext().context);
    const { users } = await drainQueueSplit(stack.azurite.connectionString, queue);
    assert.deepEqual(users.map((m) => m.user.id as string).sort(), enabled);
    assert.match(stack.graph.requestLog.at(-1) ?? '', /\$filter=\(accountEnabled%20eq%20true\)%20and%20\(userPrincipalName%20/);
  });

  it("charges the run's retry budget once for walks that wait out 429s at the same time", async () => {
    // Four walks each get a 429 with Retry-After: 3 on their first page. Charged per walk, that is
    // 12 s of a 5 s budget (RETRY_BUDGET_EXHAUSTED); as wall time, about 3 s.
    stack.graph.seed(400);
    const queue = `partitions-throttled-${randomUUID().slice(0, 6)}`;
    applySettings(stack, { SYNC_MODE: 'full', USERS_QUEUE_NAME: queue, GRAPH_PARALLEL_READS: '4', SYNC_RETRY_BUDGET_SECONDS: '5', SYNC_MAX_REMOVALS: '10000' });
    const throttledBefore = stack.graph.counters.throttled;
    // The count of the users in scope is read alone, before the ranges: it passes.
    stack.graph.faults.push({ pass: true });
    for (let i = 0; i < 4; i++) stack.graph.faults.push({ status: 429, retryAfterSeconds: 3 });
    const summary = await syncUsersHandler(timer(), testContext().context);
    assert.equal(stack.graph.counters.throttled - throttledBefore, 4);
    assert.equal(summary.outcome, 'completed');
    assert.ok(summary.retryMs >= 3000 && summary.retryMs < 5000, `retryMs ${summary.retryMs}: the 3 s the walks waited together, once`);
    const { users } = await drainQueueSplit(stack.azurite.connectionString, queue);
    assert.equal(users.length, 400);
  });
});
