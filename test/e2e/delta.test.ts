import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ContainerClient } from '@azure/storage-blob';
import { handleSync, syncUsersHandler } from '../../functions/sync-users/handler';
import { messageIdOf, parseCheckpoint, type RunCheckpoint, SyncError, SyncErrorCodes, type SyncMessage, type UserMessage } from '../../shared/internal';
import type { LocalStack } from '../../local/stack';
import type { SeedUser } from '../../local/stand-ins/seed';
import { applySettings, byUser, drainAll, drainQueueSplit, startStackForTests, testContext, timer } from '../helpers/stack';

// Delta mode end to end (SYNC_MODE's default): the Function handler, the real SDKs, the Graph
// stand-in's /users/delta and Azurite. Every message read back is checked against the schema
// (helpers/stack.ts drains through ajv).
const fields = 'id,displayName,mail,jobTitle';

describe('delta sync end to end', () => {
  let stack: LocalStack;
  let queue: string;
  before(async () => {
    stack = await startStackForTests({ persistent: true }); // on disk: queue-down keeps the messages, as Azure does
  });
  after(() => stack.stop());
  beforeEach(() => {
    stack.faults.clear();
    queue = `delta-${randomUUID().slice(0, 8)}`;
    applySettings(stack, { USERS_QUEUE_NAME: queue, USER_FIELDS: fields });
  });

  async function checkpoint(): Promise<RunCheckpoint | undefined> {
    const blob = new ContainerClient(stack.azurite.connectionString, 'sync-state').getBlockBlobClient(`${queue}.json`);
    return parseCheckpoint((await blob.downloadToBuffer()).toString('utf8'));
  }
  const drain = (): Promise<{ users: UserMessage[]; markers: SyncMessage[] }> => drainQueueSplit(stack.azurite.connectionString, queue);
  /** Graph's delta shape of a user: the selected properties that are set. */
  function present(user: SeedUser): Record<string, unknown> {
    return Object.fromEntries(
      fields.split(',').flatMap((f) => {
        const value = (user as unknown as Record<string, unknown>)[f];
        return value === null || value === undefined ? [] : [[f, value]];
      }),
    );
  }
  async function firstRun(users: number): Promise<SeedUser[]> {
    const seeded = stack.graph.seed(users);
    const summary = await syncUsersHandler(timer(), testContext().context);
    assert.equal(summary.sends, 'snapshot');
    await drain();
    return seeded;
  }

  it('the first run sends every user as a snapshot, then snapshot.completed, and saves the delta link only once all were accepted', async () => {
    const seeded = stack.graph.seed(450);
    const { context, logs } = testContext();
    const summary = await syncUsersHandler(timer(), context);
    assert.deepEqual(
      [summary.mode, summary.sends, summary.snapshotReason, summary.snapshots, summary.upserts, summary.removals, summary.deltaLinkAdvanced],
      ['delta', 'snapshot', 'first-delta', 450, 0, 0, true],
    );
    assert.equal(summary.pages, 3, 'Graph picks delta pages of at most 200');
    assert.match(
      stack.graph.requestLog.find((u) => u.startsWith('/v1.0/users/delta?')) ?? '',
      /^\/v1\.0\/users\/delta\?\$select=id,displayName,mail,jobTitle$/,
      'no $top on delta',
    );
    const { users, markers } = await drain();
    assert.equal(users.length, 450);
    assert.ok(users.every((m) => m.type === 'user.snapshot' && m.runId === context.invocationId && m.messageId === messageIdOf(m)));
    const sent = new Map(users.map((m) => [m.user.id as string, m]));
    for (const u of seeded) {
      const m = sent.get(u.id);
      assert.ok(m?.type === 'user.snapshot');
      assert.deepEqual(m.user, present(u), 'the properties Graph returned');
      assert.deepEqual(m.fields, Object.keys(present(u)), 'and the list of them');
    }
    assert.deepEqual(
      markers.map((m) => m.type === 'snapshot.completed' && m.snapshot),
      [{ users: 450, reason: 'first-delta' }],
    );
    const saved = await checkpoint();
    assert.deepEqual([saved?.status, saved?.mode, saved?.deltaLink, saved?.knownUsers], ['finished', 'delta', stack.graph.issuedDeltaLinks.at(-1), 450]);
    assert.ok(
      logs.some((l) =>
        /^\[run [\w-]+\] Sync finished \(delta mode, snapshot \(first-delta\): 450 snapshot users, delta link advanced\): 450 entries read in 3 pages, 451 messages/.test(
          l.text,
        ),
      ),
    );
  });

  it('the second run sends exactly the changes: adds, selected-property updates, restores as upserts; soft and hard deletes as removals; nothing else', async () => {
    const seeded = await firstRun(300);
    const [updated, unselected, soft, hard, restored, softThenHard] = seeded;
    assert.ok(updated && unselected && soft && hard && restored && softThenHard);
    // A user soft-deleted before the link: its restore is a change of the next run.
    stack.graph.softDeleteUser(restored.id);
    await syncUsersHandler(timer(), testContext().context);
    await drain();

    const added = stack.graph.addUser({ jobTitle: 'Credit Analyst' });
    stack.graph.updateUser(updated.id, { jobTitle: 'Head of Treasury' });
    stack.graph.updateUser(unselected.id, { department: 'Treasury' }); // not in USER_FIELDS: Graph does not surface it
    stack.graph.softDeleteUser(soft.id);
    stack.graph.hardDeleteUser(hard.id);
    stack.graph.restoreUser(restored.id);
    stack.graph.softDeleteUser(softThenHard.id);
    stack.graph.hardDeleteUser(softThenHard.id);
    const linkBefore = (await checkpoint())?.deltaLink;

    const { context, logs } = testContext();
    const summary = await syncUsersHandler(timer(), context);
    assert.deepEqual(
      [summary.sends, summary.snapshotReason, summary.upserts, summary.removals, summary.snapshots, summary.deltaLinkAdvanced],
      ['changes', null, 3, 3, 0, true],
    );
    const { users, markers } = await drain();
    assert.equal(markers.length, 0, 'no snapshot, no marker');
    assert.deepEqual(
      byUser(users),
      new Map([
        [added.id, 'user.upserted'],
        [updated.id, 'user.upserted'],
        [restored.id, 'user.upserted'],
        [soft.id, 'removed:changed'],
        [hard.id, 'removed:deleted'],
        [softThenHard.id, 'removed:deleted'],
      ]),
    );
    const upsert = users.find((m) => m.user.id === updated.id);
    assert.ok(upsert?.type === 'user.upserted');
    assert.deepEqual(upsert.user, { ...present(updated), jobTitle: 'Head of Treasury' }, 'the whole record, as Graph returns it by default');
    assert.ok(users.every((m) => m.runId === context.invocationId && m.messageId === messageIdOf(m)));
    const removals = users.filter((m) => m.type === 'user.removed');
    assert.ok(
      Math.min(...removals.map((m) => m.sequence)) > 0 && removals.every((m) => m.sequence > 1_000_000_000),
      'removals keep the position they were read at',
    );
    const saved = await checkpoint();
    assert.notEqual(saved?.deltaLink, linkBefore);
    assert.equal(saved?.deltaLink, stack.graph.issuedDeltaLinks.at(-1));
    assert.ok(
      logs.some((l) =>
        /^\[run [\w-]+\] Sync finished \(delta mode, changes: 3 upserts, 3 removals, 0 snapshot users, delta link advanced\): 6 entries read in 1 page, 6 messages/.test(
          l.text,
        ),
      ),
    );

    // Nothing changed: nothing sent.
    const quiet = await syncUsersHandler(timer(), testContext().context);
    assert.deepEqual([quiet.sends, quiet.messages, quiet.entries], ['changes', 0, 0]);
    assert.equal((await drainAll(stack.azurite.connectionString, queue)).length, 0);
  });

  it('a failure after page k of the first delta walk resumes at page k under the same runId; everyone once, the link saved at the end', async () => {
    const seeded = stack.graph.seed(1000); // 5 pages of 200
    stack.faults.arm('graph-400@3');
    const first = testContext();
    await assert.rejects(
      syncUsersHandler(timer(), first.context),
      (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.graphBadRequest,
    );
    const saved = await checkpoint();
    assert.deepEqual(
      [saved?.status, saved?.kind, saved?.pages, saved?.deltaLink, saved?.deltaNext],
      ['running', 'snapshot', 2, null, null],
      'no delta link before the walk ends',
    );
    const summary = await syncUsersHandler(timer(), testContext().context);
    assert.deepEqual([summary.runId, summary.resumed, summary.resumedAtPage, summary.sends], [first.context.invocationId, true, 3, 'snapshot']);
    const { users, markers } = await drain();
    assert.equal(users.length, 1000, 'no duplicates: page 3 had sent nothing');
    assert.deepEqual(new Set(users.map((m) => m.user.id)), new Set(seeded.map((u) => u.id)));
    assert.deepEqual(
      markers.map((m) => m.type === 'snapshot.completed' && m.snapshot.users),
      [1000],
    );
    assert.equal((await checkpoint())?.deltaLink, stack.graph.issuedDeltaLinks.at(-1));
  });

  it('a queue failure keeps the old delta link; the next run sends the same changes again with the same message ids', async () => {
    applySettings(stack, {
      USERS_QUEUE_NAME: queue,
      USER_FIELDS: 'id,displayName,jobTitle,department,mobilePhone,officeLocation',
      SYNC_RETRY_BUDGET_SECONDS: '2',
    });
    await firstRun(700);
    const changed = stack.graph.churn(600, () => 0.1); // 600 updates: three delta pages
    assert.ok(changed.every((c) => c.kind === 'updated'));
    const oldLink = (await checkpoint())?.deltaLink;
    // Storage goes down for 8 s as page 3 is requested: the run's 2-second budget runs out.
    stack.faults.arm('queue-down@3x8');
    const first = testContext();
    await assert.rejects(
      syncUsersHandler(timer(), first.context),
      (error: unknown) => error instanceof SyncError && (error.code === SyncErrorCodes.retryBudgetExhausted || error.code === SyncErrorCodes.queueUnreachable),
    );
    await stack.azurite.whenUp();
    // The failed run could not release its lock while storage was down; it would free itself in 60 s.
    await new ContainerClient(stack.azurite.connectionString, 'sync-state').getBlockBlobClient(`${queue}.json`).getBlobLeaseClient().breakLease(0);
    const failed = await checkpoint();
    assert.deepEqual([failed?.status, failed?.deltaLink, failed?.runId], ['running', oldLink, first.context.invocationId], 'the delta link did not move');
    const accepted = (await drain()).users; // what the failed attempt got into the queue

    const summary = await syncUsersHandler(timer(), testContext().context);
    assert.deepEqual([summary.runId, summary.resumed], [first.context.invocationId, true]);
    const resent = (await drain()).users;
    const all = [...accepted, ...resent];
    assert.deepEqual(new Set(all.map((m) => m.user.id)), new Set(changed.map((c) => c.id)), 'every change delivered, nothing else');
    const idOf = new Map(resent.map((m) => [m.user.id, m.messageId]));
    const again = accepted.filter((m) => idOf.has(m.user.id));
    assert.ok(again.length > 0, 'the resumed run sent again some changes the failed attempt had sent');
    for (const m of again) assert.equal(idOf.get(m.user.id), m.messageId, `the same id for ${m.user.id as string}`);
    assert.ok(all.every((m) => m.messageId === messageIdOf(m)));
    assert.notEqual((await checkpoint())?.deltaLink, oldLink);
  });

  it('an expired delta link (syncStateNotFound) starts a full resync by itself, says why, and sends snapshots', async () => {
    const seeded = await firstRun(250);
    stack.graph.expireDeltaTokens();
    const { context, logs } = testContext();
    const summary = await syncUsersHandler(timer(), context);
    assert.deepEqual(
      [summary.sends, summary.snapshotReason, summary.snapshots, summary.upserts, summary.deltaLinkAdvanced],
      ['snapshot', 'resync', 250, 0, true],
    );
    assert.ok(logs.some((l) => l.level === 'warning' && /no longer knows the saved delta link \(400 syncStateNotFound.*full snapshot instead/.test(l.text)));
    const { users, markers } = await drain();
    assert.deepEqual(new Set(users.map((m) => m.user.id)), new Set(seeded.map((u) => u.id)));
    assert.ok(users.every((m) => m.type === 'user.snapshot'));
    assert.deepEqual(
      markers.map((m) => m.type === 'snapshot.completed' && m.snapshot),
      [{ users: 250, reason: 'resync' }],
    );
    const next = await syncUsersHandler(timer(), testContext().context);
    assert.equal(next.sends, 'changes', 'then changes again, from the new link');
  });

  it('a sync reset (410 Gone with a Location) starts the resync from the Location', async () => {
    await firstRun(30);
    stack.graph.resetSync();
    const start = stack.graph.requestLog.length;
    const { context, logs } = testContext();
    const summary = await syncUsersHandler(timer(), context);
    assert.deepEqual([summary.sends, summary.snapshotReason, summary.snapshots], ['snapshot', 'resync', 30]);
    assert.ok(logs.some((l) => l.level === 'warning' && /reset the sync state \(410 Gone/.test(l.text)));
    assert.match(
      stack.graph.requestLog[start + 1] ?? '',
      /\/v1\.0\/users\/delta\?\$select=id,displayName,mail,jobTitle&\$deltatoken=$/,
      'the Location, followed',
    );
    assert.equal((await drain()).users.length, 30);
  });

  it('--full sends a snapshot in delta mode and renews the link; a USER_FIELDS change does too', async () => {
    await firstRun(40);
    const forced = await handleSync(timer(), testContext().context, { forceFull: true });
    assert.deepEqual([forced.sends, forced.snapshotReason, forced.snapshots, forced.deltaLinkAdvanced], ['snapshot', 'requested', 40, true]);
    await drain();
    applySettings(stack, { USERS_QUEUE_NAME: queue, USER_FIELDS: `${fields},department` });
    const { context, logs } = testContext();
    const widened = await syncUsersHandler(timer(), context);
    assert.deepEqual([widened.sends, widened.snapshotReason], ['snapshot', 'requested']);
    assert.ok(logs.some((l) => /USER_FIELDS changed since the saved delta link was issued/.test(l.text)));
    assert.deepEqual((await checkpoint())?.deltaFields, [...fields.split(','), 'department']);
    await drain();
  });

  it('full mode sends every user every run as snapshots and keeps the delta link of delta mode untouched', async () => {
    await firstRun(20);
    const link = (await checkpoint())?.deltaLink;
    applySettings(stack, { USERS_QUEUE_NAME: queue, USER_FIELDS: fields, SYNC_MODE: 'full' });
    for (let i = 0; i < 2; i++) {
      const summary = await syncUsersHandler(timer(), testContext().context);
      assert.deepEqual(
        [summary.mode, summary.sends, summary.snapshotReason, summary.snapshots, summary.deltaLinkAdvanced],
        ['full', 'snapshot', 'full-mode', 20, false],
      );
      assert.equal((await drain()).users.length, 20);
    }
    assert.equal((await checkpoint())?.deltaLink, link);
  });

  describe('mass-deletion guard', () => {
    /** 100 users; the guard at 10; then 12 users removed and 2 changed. */
    async function massDeletion(): Promise<{ removed: SeedUser[]; changed: SeedUser[] }> {
      applySettings(stack, { USERS_QUEUE_NAME: queue, USER_FIELDS: fields, SYNC_MAX_REMOVALS: '10' });
      const seeded = await firstRun(100);
      const removed = seeded.slice(0, 12);
      for (const [i, u] of removed.entries()) {
        if (i % 2 === 0) stack.graph.softDeleteUser(u.id);
        else stack.graph.hardDeleteUser(u.id);
      }
      const changed = seeded.slice(50, 52);
      for (const u of changed) stack.graph.updateUser(u.id, { jobTitle: `Changed ${u.id.slice(0, 4)}` });
      return { removed, changed };
    }

    it('holds every removal and the delta link, still sends the upserts, and says how to allow them once', async () => {
      const { changed } = await massDeletion();
      const link = (await checkpoint())?.deltaLink;
      const { context, logs } = testContext();
      await assert.rejects(syncUsersHandler(timer(), context), (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.removalsHeld);
      const line = logs.find((l) => l.level === 'error')?.text ?? '';
      assert.match(
        line,
        /Mass-deletion guard: run [\w-]+ would send 12 removals, more than the 10 \(SYNC_MAX_REMOVALS: at most 10\) allowed\. No removal was sent and the delta link stays where it was; the run's 2 upserts were sent/,
      );
      assert.match(line, /npm run sync -- --once --allow-removals 12, or set SYNC_ALLOW_REMOVALS=12/);
      const { users } = await drain();
      assert.deepEqual(byUser(users), new Map(changed.map((u) => [u.id, 'user.upserted'])), 'upserts only');
      const held = await checkpoint();
      assert.deepEqual([held?.status, held?.deltaLink, held?.heldRemovals], ['held', link, 12]);

      // Held again, same runId, same upsert ids.
      const again = testContext();
      await assert.rejects(syncUsersHandler(timer(), again.context));
      assert.ok(again.logs.some((l) => /was held back by the mass-deletion guard \(12 removals\)/.test(l.text)));
      const resent = (await drain()).users;
      assert.deepEqual(resent.map((m) => m.messageId).sort(), users.map((m) => m.messageId).sort(), 'the same upserts, the same ids');

      // Allowed once from the command line: the removals go, the link moves, and the next run is guarded again.
      const allowed = await handleSync(timer(), testContext().context, { allowRemovals: 12 });
      assert.deepEqual([allowed.removals, allowed.deltaLinkAdvanced, allowed.runId], [12, true, held?.runId]);
      const sent = (await drain()).users;
      assert.equal(sent.filter((m) => m.type === 'user.removed').length, 12);
      assert.equal((await checkpoint())?.status, 'finished');
    });

    it('an expired delta link is no way round it: a resync snapshot short of more users than allowed holds its snapshot.completed', async () => {
      const { removed } = await massDeletion();
      stack.graph.expireDeltaTokens();
      const { context, logs } = testContext();
      await assert.rejects(syncUsersHandler(timer(), context), (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.removalsHeld);
      assert.match(
        logs.find((l) => l.level === 'error')?.text ?? '',
        /would let the consumer drop 12 users \(the last full snapshot had 100, this one 88; snapshot\.completed was not sent\)/,
      );
      const first = await drain();
      assert.deepEqual([first.users.length, first.markers.length], [88, 0], 'the users, not the sweep');
      assert.ok(!first.users.some((m) => removed.some((u) => u.id === m.user.id)));
      assert.equal((await checkpoint())?.status, 'held');

      const allowed = await handleSync(timer(), testContext().context, { allowRemovals: 12 });
      assert.deepEqual([allowed.runId, allowed.sends, allowed.snapshotReason, allowed.snapshots], [context.invocationId, 'snapshot', 'resync', 88]);
      const second = await drain();
      assert.deepEqual(
        second.markers.map((m) => m.type === 'snapshot.completed' && m.snapshot),
        [{ users: 88, reason: 'resync' }],
      );
      assert.deepEqual(second.users.map((m) => m.messageId).sort(), first.users.map((m) => m.messageId).sort(), 'the same snapshot, the same ids');
      assert.equal((await checkpoint())?.knownUsers, 88);
    });

    it('an allowance too small still holds; SYNC_ALLOW_REMOVALS lets one run through and is then ignored until changed', async () => {
      await massDeletion();
      await assert.rejects(
        handleSync(timer(), testContext().context, { allowRemovals: 11 }),
        (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.removalsHeld && /and more than the 11 allowed once/.test(error.message),
      );
      await drain();
      applySettings(stack, { USERS_QUEUE_NAME: queue, USER_FIELDS: fields, SYNC_MAX_REMOVALS: '10', SYNC_ALLOW_REMOVALS: '12' });
      const { context, logs } = testContext();
      const allowed = await syncUsersHandler(timer(), context);
      assert.equal(allowed.removals, 12);
      assert.ok(logs.some((l) => /Letting 12 removals through.*allowed once by SYNC_ALLOW_REMOVALS=12/.test(l.text)));
      assert.deepEqual((await checkpoint())?.allowanceUsed, { value: 12, runId: allowed.runId });
      await drain();

      // A second mass deletion with the setting still there: held, and the setting is said to be spent.
      for (const u of stack.graph.users.slice(0, 12)) stack.graph.softDeleteUser(u.id);
      const second = testContext();
      await assert.rejects(
        syncUsersHandler(timer(), second.context),
        (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.removalsHeld,
      );
      assert.ok(second.logs.some((l) => /SYNC_ALLOW_REMOVALS=12 was used once already .* and is ignored/.test(l.text)));
      assert.equal((await drain()).users.filter((m) => m.type === 'user.removed').length, 0);
    });
  });
});
