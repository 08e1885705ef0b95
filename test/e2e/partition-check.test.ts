import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ContainerClient } from '@azure/storage-blob';
import { handleSync, syncUsersHandler } from '../../functions/sync-users/handler';
import {
  fixedBudget,
  graphTokenCredential,
  parseCheckpoint,
  partitionStarts,
  readUserPages,
  RetryBudget,
  SyncError,
  SyncErrorCodes,
  type RunCheckpoint,
} from '../../shared/internal';
import type { LocalStack } from '../../local/stack';
import { applySettings, drainQueueSplit, graphTokenProvider, startStackForTests, testContext, timer, type LogLine } from '../helpers/stack';

// GRAPH_PARALLEL_READS' ranges prove themselves before they are trusted (issue 22 §1): when Graph
// refuses the range filter, ignores it, or the counts do not add up, the run reads in one
// sequential walk instead, says so once, and sends every user exactly once. Through the handler,
// the real SDKs, the Graph stand-in (its principalNameRanges modes, and a directory changed
// between two requests) and Azurite.
describe('full mode, partitioned read: the ranges checked', () => {
  let stack: LocalStack;
  let queue: string;
  before(async () => {
    stack = await startStackForTests();
  });
  after(() => stack.stop());
  beforeEach(() => {
    stack.faults.clear();
    stack.graph.principalNameRanges = 'honoured';
    stack.graph.beforePage = undefined;
    queue = `ranges-${randomUUID().slice(0, 8)}`;
    applySettings(stack, { SYNC_MODE: 'full', USERS_QUEUE_NAME: queue, GRAPH_PARALLEL_READS: '4', SYNC_MAX_REMOVALS: '10000' });
  });

  async function checkpoint(): Promise<RunCheckpoint | undefined> {
    const blob = new ContainerClient(stack.azurite.connectionString, 'sync-state').getBlockBlobClient(`${queue}.json`);
    return parseCheckpoint((await blob.downloadToBuffer()).toString('utf8'));
  }
  const fallbacks = (logs: readonly LogLine[]): LogLine[] => logs.filter((l) => /GRAPH_PARALLEL_READS=4: .*one sequential walk instead/.test(l.text));

  /** A run; every user of the directory (as it is after the run) in the queue exactly once, one marker counting them. */
  async function runOnce(): Promise<{ logs: LogLine[] }> {
    const { context, logs } = testContext();
    const summary = await syncUsersHandler(timer(), context);
    const expected = stack.graph.users.map((u) => u.id);
    const { users, markers } = await drainQueueSplit(stack.azurite.connectionString, queue);
    const ids = users.map((m) => m.user.id as string);
    assert.equal(ids.length, new Set(ids).size, `no user twice (${ids.length - new Set(ids).size} duplicates)`);
    assert.deepEqual(ids.sort(), [...expected].sort(), 'every user, none missed');
    assert.deepEqual(
      markers.map((m) => m.snapshot.users),
      [expected.length],
    );
    assert.equal(summary.snapshots, expected.length);
    return { logs };
  }

  it('honoured: the ranges are trusted (no notice) and read side by side', async () => {
    stack.graph.seed(1500);
    const before = stack.graph.requestLog.length;
    const { logs } = await runOnce();
    assert.equal(fallbacks(logs).length, 0);
    assert.ok(stack.graph.requestLog.slice(before).filter((u) => u.includes('userPrincipalName%20ge%20')).length >= 36);
  });

  it('refused (400 Request_UnsupportedQuery): one sequential walk in the same run, one notice naming GRAPH_PARALLEL_READS, not USER_FILTER; every user once', async () => {
    stack.graph.seed(2100);
    stack.graph.principalNameRanges = 'refused';
    const before = stack.graph.requestLog.length;
    const { logs } = await runOnce();
    const notices = fallbacks(logs);
    assert.equal(notices.length, 1, logs.map((l) => l.text).join('\n'));
    assert.equal(notices[0]?.level, 'warning');
    assert.match(notices[0]?.text ?? '', /Microsoft Graph refused the range .*\(400 Request_UnsupportedQuery\), so the split into ranges cannot be trusted/);
    assert.match(notices[0]?.text ?? '', /no user of the ranges had been sent, so none is sent twice/);
    assert.ok(!logs.some((l) => /USER_FILTER/.test(l.text)), 'no USER_FILTER is set: none is blamed');
    const requests = stack.graph.requestLog.slice(before);
    const sequential = requests.filter((u) => u.startsWith('/v1.0/users?$select=') && !u.includes('$filter') && !u.includes('$count'));
    assert.equal(sequential.length, 3, 'then one walk of 999 a page');
    assert.equal((await checkpoint())?.partitions, null);
  });

  it('ignored (every range lists every user): the counts give it away before any user is sent; every user once, one notice', async () => {
    stack.graph.seed(700);
    stack.graph.principalNameRanges = 'ignored';
    const { logs } = await runOnce();
    const notices = fallbacks(logs);
    assert.equal(notices.length, 1);
    assert.match(notices[0]?.text ?? '', /the ranges' @odata\.count add up to 25900 users where Graph counts 700 in scope, more than the 5 allowed/);
  });

  it('counts that do not add up (the directory grew by more than the slack between the count and the ranges): one walk, every user once', async () => {
    stack.graph.seed(600);
    const start = stack.graph.counters.pageRequests;
    stack.graph.beforePage = (request) => {
      // Just after the count of the users in scope was answered: 12 users more, over the slack of 5.
      if (request === start + 2) for (let i = 0; i < 12; i++) stack.graph.addUser();
    };
    const { logs } = await runOnce();
    assert.equal(stack.graph.users.length, 612);
    const notices = fallbacks(logs);
    assert.equal(notices.length, 1);
    assert.match(
      notices[0]?.text ?? '',
      /the ranges' @odata\.count add up to 612 users where Graph counts 600 in scope, more than the 5 allowed for the index's lag/,
    );
  });

  it('names outside their range on a later page (renamed as the run reads, beyond the slack): one walk, every user delivered, the resent ones with the same message ids', async () => {
    stack.graph.seed(40);
    const many = Array.from({ length: 1100 }, (_, i) => stack.graph.addUser({ userPrincipalName: `a${String(i).padStart(4, '0')}@contoso.example` }));
    const renamed = many.slice(-10); // the last of range 'a', on its second page
    stack.graph.beforePage = (_request, url) => {
      if (!decodeURIComponent(url).includes("ge 'a' and") || !url.includes('$skiptoken=') || renamed[0]?.userPrincipalName.startsWith('z') !== false) return;
      for (const [i, user] of renamed.entries()) renamed[i] = stack.graph.updateUser(user.id, { userPrincipalName: `z${user.userPrincipalName}` });
    };
    const { context, logs } = testContext();
    const summary = await syncUsersHandler(timer(), context);
    const { users, markers } = await drainQueueSplit(stack.azurite.connectionString, queue);
    const notices = fallbacks(logs);
    assert.equal(notices.length, 1, logs.map((l) => l.text).join('\n'));
    assert.match(
      notices[0]?.text ?? '',
      /the range "userPrincipalName ge 'a' and userPrincipalName le 'b'" returned users whose names are outside it \(user [0-9a-f-]{36} among them; 10 so far, more than the 5 allowed\)/,
    );
    assert.match(notices[0]?.text ?? '', /sends again, with the same message ids, the users of the pages the ranges had sent/);
    const everyone = new Set(stack.graph.users.map((u) => u.id));
    assert.deepEqual(new Set(users.map((m) => m.user.id)), everyone, 'every user delivered');
    assert.deepEqual(
      markers.map((m) => m.snapshot.users),
      [everyone.size],
    );
    assert.equal(summary.snapshots, everyone.size, 'the one walk counts each user once');
    const ids = new Map<string, Set<string>>();
    for (const m of users) ids.set(m.user.id as string, (ids.get(m.user.id as string) ?? new Set()).add(m.messageId));
    assert.ok(users.length > everyone.size, 'the pages the ranges had sent were sent again');
    assert.ok(
      [...ids.values()].every((set) => set.size === 1),
      'a user sent twice carries the same message id both times',
    );
  });

  it('a refused range surfaces, where a run gives up on the ranges, as the range filter of GRAPH_PARALLEL_READS, not as USER_FILTER', async () => {
    stack.graph.seed(5);
    stack.graph.principalNameRanges = 'refused';
    const [first] = partitionStarts(stack.graph.url, ['id']);
    assert.ok(first !== undefined);
    const pages = readUserPages({
      baseUrl: stack.graph.url,
      fields: ['id'],
      credential: graphTokenCredential(graphTokenProvider(stack)),
      adminConsentUrl: 'https://consent.example',
      budgets: fixedBudget(new RetryBudget(10_000)),
      startUrl: first.start,
    });
    await assert.rejects(
      (async () => {
        for await (const page of pages) assert.fail(`a page of ${page.entries.length}: the range was not refused`);
      })(),
      (error: unknown) =>
        error instanceof SyncError &&
        error.code === SyncErrorCodes.graphBadRequest &&
        /refused the userPrincipalName range filter of GRAPH_PARALLEL_READS \(400 Request_UnsupportedQuery: .*\): set GRAPH_PARALLEL_READS=1/.test(
          error.message,
        ) &&
        !/USER_FILTER/.test(error.message),
    );
  });

  it('the fallback is resumable: a run that fails in its sequential walk resumes it in one walk, without a second notice; every user once over both', async () => {
    stack.graph.seed(2500);
    stack.graph.principalNameRanges = 'refused';
    // The second page of the one walk is refused (a fault armed as it is requested: @1 is that request).
    let armed = false;
    stack.graph.beforePage = (_request, url) => {
      if (armed || !url.includes('$skiptoken=') || url.includes('$filter')) return;
      armed = true;
      stack.faults.arm('graph-400@1');
    };
    const first = testContext();
    await assert.rejects(
      syncUsersHandler(timer(), first.context),
      (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.graphBadRequest,
    );
    assert.equal(fallbacks(first.logs).length, 1);
    const saved = await checkpoint();
    assert.deepEqual([saved?.status, saved?.partitions, saved?.pages], ['running', null, 1]);
    assert.match(saved?.nextLink ?? '', /\/v1\.0\/users\?.*\$skiptoken=/, 'the one walk, at its second page');
    const accepted = (await drainQueueSplit(stack.azurite.connectionString, queue)).users;

    const before = stack.graph.requestLog.length;
    const second = testContext();
    const summary = await syncUsersHandler(timer(), second.context);
    assert.deepEqual([summary.resumed, summary.resumedAtPage, summary.runId], [true, 2, first.context.invocationId]);
    assert.equal(fallbacks(second.logs).length, 0, 'said once, by the attempt that gave up on the ranges');
    assert.ok(!stack.graph.requestLog.slice(before).some((u) => u.includes('$filter') || u.includes('$count')), 'no range read again, nor the count');
    const resent = await drainQueueSplit(stack.azurite.connectionString, queue);
    const ids = [...accepted, ...resent.users].map((m) => m.user.id as string);
    assert.equal(ids.length, 2500, 'no user twice');
    assert.deepEqual(new Set(ids), new Set(stack.graph.users.map((u) => u.id)));
    assert.deepEqual(
      resent.markers.map((m) => m.snapshot.users),
      [2500],
    );
  });

  it('the dry run decides the same way: it reads in one walk where a run would, and says why', async () => {
    stack.graph.seed(1200);
    stack.graph.principalNameRanges = 'ignored';
    const { context, logs } = testContext();
    const report = await handleSync(timer(), context, { dryRun: true });
    assert.deepEqual([report.sends, report.snapshots, report.pages], ['snapshot', 1200, 2]);
    assert.ok(
      logs.some(
        (l) =>
          l.level === 'warning' &&
          /cannot be trusted: the ranges' @odata\.count add up to .* A real run would read the users in one sequential walk instead \(GRAPH_PARALLEL_READS=4\)/.test(
            l.text,
          ),
      ),
    );
  });
});
