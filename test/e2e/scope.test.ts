import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ContainerClient } from '@azure/storage-blob';
import { handleSync, syncUsersHandler } from '../../functions/sync-users/handler';
import { bytesPerMember, createSyncRuntime, parseCheckpoint, readMemberIds, type RunCheckpoint, SyncError, SyncErrorCodes } from '../../shared/internal';
import { readSettings } from '../../shared';
import type { LocalStack } from '../../local/stack';
import type { SeedUser } from '../../local/stand-ins/seed';
import { applySettings, byUser, drainQueueSplit, startStackForTests, testContext, timer } from '../helpers/stack';

// Scope end to end (issue 12): SYNC_GROUP_ID in full and delta mode (nested groups, joiners,
// leavers, the guard) and USER_FILTER in full mode, through the handler, the real SDKs, the
// Graph stand-in's group and $filter support and Azurite. Messages are checked against the schema.
const fields = 'id,displayName,mail,jobTitle';

describe('scope: SYNC_GROUP_ID and USER_FILTER end to end', () => {
  let stack: LocalStack;
  let queue: string;
  before(async () => {
    stack = await startStackForTests();
  });
  after(() => stack.stop());
  beforeEach(() => {
    stack.faults.clear();
    queue = `scope-${randomUUID().slice(0, 8)}`;
  });

  const drain = () => drainQueueSplit(stack.azurite.connectionString, queue);
  async function checkpoint(): Promise<RunCheckpoint | undefined> {
    const blob = new ContainerClient(stack.azurite.connectionString, 'sync-state').getBlockBlobClient(`${queue}.json`);
    return parseCheckpoint((await blob.downloadToBuffer()).toString('utf8'));
  }
  /** A group of `direct` users with a nested group of `nested` more (and one user in both). */
  function nestedGroup(users: readonly SeedUser[], direct: number, nested: number): { parent: string; child: string; members: string[] } {
    const parent = stack.graph.addGroup({ displayName: 'Payment reminders' });
    const child = stack.graph.addGroup({ displayName: 'Payment reminders (EMEA)' });
    stack.graph.addMember(parent, child);
    const members = users.slice(0, direct + nested).map((u) => u.id);
    for (const id of members.slice(0, direct)) stack.graph.addMember(parent, id);
    for (const id of members.slice(direct)) stack.graph.addMember(child, id);
    stack.graph.addMember(child, members[0] ?? ''); // in both: still one member
    return { parent, child, members };
  }
  const set = (ids: readonly string[]): string[] => [...ids].sort();

  describe('full mode', () => {
    it('SYNC_GROUP_ID sends exactly the transitive members (nested groups included), as an advanced query on every page', async () => {
      const users = stack.graph.seed(1200);
      const { parent, members } = nestedGroup(users, 700, 300);
      applySettings(stack, { USERS_QUEUE_NAME: queue, USER_FIELDS: fields, SYNC_MODE: 'full', SYNC_GROUP_ID: parent });
      const before = stack.graph.requestLog.length;
      const { context, logs } = testContext();
      const summary = await syncUsersHandler(timer(), context);
      assert.deepEqual([summary.sends, summary.snapshots, summary.pages], ['snapshot', 1000, 2]);
      const { users: sent, markers } = await drain();
      assert.deepEqual(set(sent.map((m) => m.user.id as string)), set(members));
      assert.ok(sent.every((m) => m.type === 'user.snapshot'));
      assert.deepEqual(
        markers.map((m) => m.snapshot.users),
        [1000],
      );
      const requests = stack.graph.requestLog.slice(before).filter((u) => u.includes('/transitiveMembers/'));
      assert.equal(requests.length, 2);
      assert.match(
        requests[0] ?? '',
        /^\/v1\.0\/groups\/[0-9a-f-]+\/transitiveMembers\/microsoft\.graph\.user\?\$select=id,displayName,mail,jobTitle&\$top=999&\$count=true$/,
      );
      assert.ok(
        logs.some((l) => l.text.includes(`scope: the members of group ${parent}`)),
        'the summary names the scope',
      );
    });

    it('USER_FILTER reads /users with the filter; ne, not and endsWith go as advanced queries', async () => {
      const users = stack.graph.seed(300);
      for (const u of users.slice(0, 40)) stack.graph.updateUser(u.id, { accountEnabled: false });
      const enabled = stack.graph.users.filter((u) => u.accountEnabled).map((u) => u.id);
      assert.ok(enabled.length > 150 && enabled.length <= 260);
      applySettings(stack, { USERS_QUEUE_NAME: queue, USER_FIELDS: fields, SYNC_MODE: 'full', USER_FILTER: 'accountEnabled eq true' });
      const summary = await syncUsersHandler(timer(), testContext().context);
      assert.equal(summary.snapshots, enabled.length);
      assert.deepEqual(set((await drain()).users.map((m) => m.user.id as string)), set(enabled));

      // The same users with ne: only as an advanced query (the stand-in refuses it otherwise, as Graph does).
      applySettings(stack, { USERS_QUEUE_NAME: queue, USER_FIELDS: fields, SYNC_MODE: 'full', USER_FILTER: 'accountEnabled ne false' });
      const advanced = await syncUsersHandler(timer(), testContext().context);
      assert.equal(advanced.snapshots, enabled.length);
      assert.equal((await drain()).users.length, enabled.length);
      assert.match(stack.graph.requestLog.at(-1) ?? '', /\$filter=accountEnabled%20ne%20false&\$count=true/);
    });

    it('a filter Graph refuses fails the run with USER_FILTER_REFUSED, naming the setting', async () => {
      stack.graph.seed(10);
      applySettings(stack, { USERS_QUEUE_NAME: queue, USER_FIELDS: fields, SYNC_MODE: 'full', USER_FILTER: "contains(displayName,'a')" });
      const { context, logs } = testContext();
      await assert.rejects(
        syncUsersHandler(timer(), context),
        (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.userFilterRefused,
      );
      assert.ok(logs.some((l) => /Sync failed \[USER_FILTER_REFUSED\]: Microsoft Graph refused USER_FILTER \(400 /.test(l.text)));
    });

    it('a group Graph does not know fails with GROUP_NOT_FOUND', async () => {
      const missing = randomUUID();
      applySettings(stack, { USERS_QUEUE_NAME: queue, SYNC_MODE: 'full', SYNC_GROUP_ID: missing });
      await assert.rejects(
        syncUsersHandler(timer(), testContext().context),
        (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.groupNotFound && error.message.includes(missing),
      );
    });
  });

  it('delta mode refuses USER_FILTER before reading anything, suggesting a group', async () => {
    applySettings(stack, { USERS_QUEUE_NAME: queue, USER_FILTER: 'accountEnabled eq true' });
    const before = stack.graph.counters.requests;
    await assert.rejects(
      syncUsersHandler(timer(), testContext().context),
      (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.settingsInvalid && /SYNC_GROUP_ID/.test(error.message),
    );
    assert.equal(stack.graph.counters.requests, before);
  });

  describe('delta mode under a group', () => {
    it('first run: a snapshot of the members; next runs: member changes, joiners as whole records, leavers as outOfScope, nothing for others', async () => {
      const users = stack.graph.seed(600);
      const { parent, child, members } = nestedGroup(users, 250, 150);
      applySettings(stack, { USERS_QUEUE_NAME: queue, USER_FIELDS: fields, SYNC_GROUP_ID: parent });

      const first = await syncUsersHandler(timer(), testContext().context);
      assert.deepEqual([first.sends, first.snapshotReason, first.snapshots, first.deltaLinkAdvanced], ['snapshot', 'first-delta', 400, true]);
      const snapshot = await drain();
      assert.deepEqual(set(snapshot.users.map((m) => m.user.id as string)), set(members));
      assert.deepEqual(
        snapshot.markers.map((m) => m.snapshot.users),
        [400],
      );
      const saved = await checkpoint();
      assert.ok(saved?.members !== null && saved?.members !== undefined, 'the membership is committed with the delta link');
      assert.equal(saved.deltaScope, `group=${parent}`);
      const blob = new ContainerClient(stack.azurite.connectionString, 'sync-state').getBlockBlobClient(saved.members);
      assert.equal((await blob.getProperties()).contentLength, 400 * bytesPerMember);

      const [memberUpdated, memberSoft, leaverDirect, leaverNested, ,] = members;
      const [outsiderUpdated, outsiderDeleted, joinerDirect, joinerNested] = users.slice(400).map((u) => u.id);
      assert.ok(memberUpdated && memberSoft && leaverDirect && leaverNested && outsiderUpdated && outsiderDeleted && joinerDirect && joinerNested);
      stack.graph.updateUser(memberUpdated, { jobTitle: 'Head of Collections' });
      stack.graph.softDeleteUser(memberSoft);
      stack.graph.removeMember(parent, leaverDirect);
      stack.graph.removeMember(child, members[300] ?? '');
      stack.graph.updateUser(outsiderUpdated, { jobTitle: 'Not synced' });
      stack.graph.hardDeleteUser(outsiderDeleted);
      stack.graph.addMember(parent, joinerDirect);
      stack.graph.addMember(child, joinerNested);
      const newcomer = stack.graph.addUser({ jobTitle: 'Trainee' });
      stack.graph.addMember(child, newcomer.id); // a new user and a joiner: sent once

      const { context, logs } = testContext();
      const second = await syncUsersHandler(timer(), context);
      assert.deepEqual([second.sends, second.upserts, second.removals, second.joined, second.left], ['changes', 4, 3, 3, 2]);
      const { users: changes, markers } = await drain();
      assert.equal(markers.length, 0);
      assert.deepEqual(
        byUser(changes),
        new Map([
          [memberUpdated, 'user.upserted'],
          [memberSoft, 'removed:changed'],
          [leaverDirect, 'removed:outOfScope'],
          [members[300] ?? '', 'removed:outOfScope'],
          [joinerDirect, 'user.upserted'],
          [joinerNested, 'user.upserted'],
          [newcomer.id, 'user.upserted'],
        ]),
      );
      const joiner = changes.find((m) => m.user.id === joinerDirect);
      const record = users.find((u) => u.id === joinerDirect);
      assert.ok(joiner?.type === 'user.upserted' && record);
      assert.equal(joiner.user['displayName'], record.displayName, 'a joiner is sent whole');
      assert.ok(logs.some((l) => /scope: the members of group [0-9a-f-]+ \(3 joined, 2 left\)/.test(l.text)));

      // A third run without changes sends nothing; the old membership blob is gone.
      const third = await syncUsersHandler(timer(), testContext().context);
      assert.deepEqual([third.upserts, third.removals, third.joined, third.left], [0, 0, 0, 0]);
      assert.equal((await drain()).users.length, 0);
      assert.equal(await blob.exists(), false, 'the replaced membership blob is deleted');
    });

    it('the mass-deletion guard counts members who left: a group emptied by mistake is held, then allowed once', async () => {
      const users = stack.graph.seed(200);
      const group = stack.graph.addGroup();
      for (const u of users.slice(0, 100)) stack.graph.addMember(group, u.id);
      applySettings(stack, { USERS_QUEUE_NAME: queue, USER_FIELDS: fields, SYNC_GROUP_ID: group, SYNC_MAX_REMOVALS: '10' });
      await syncUsersHandler(timer(), testContext().context);
      await drain();
      for (const u of users.slice(0, 60)) stack.graph.removeMember(group, u.id);

      await assert.rejects(
        syncUsersHandler(timer(), testContext().context),
        (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.removalsHeld && error.details['removals'] === 60,
      );
      assert.equal((await drain()).users.length, 0, 'no removal sent');
      assert.equal((await checkpoint())?.status, 'held');

      const allowed = await handleSync(timer(), testContext().context, { allowRemovals: 60 });
      assert.deepEqual([allowed.removals, allowed.left], [60, 60]);
      const sent = (await drain()).users;
      assert.equal(sent.length, 60);
      assert.ok(sent.every((m) => m.type === 'user.removed' && m.removed.reason === 'outOfScope'));
    });

    it('an expired delta link under a group resyncs with a snapshot of the members only, and carries on with changes', async () => {
      const users = stack.graph.seed(500);
      const group = stack.graph.addGroup();
      for (const u of users.slice(0, 120)) stack.graph.addMember(group, u.id);
      applySettings(stack, { USERS_QUEUE_NAME: queue, USER_FIELDS: fields, SYNC_GROUP_ID: group });
      await syncUsersHandler(timer(), testContext().context);
      await drain();
      stack.graph.expireDeltaTokens();
      stack.graph.addMember(group, users[200]?.id ?? '');

      const { context, logs } = testContext();
      const resync = await syncUsersHandler(timer(), context);
      assert.deepEqual([resync.sends, resync.snapshotReason, resync.snapshots], ['snapshot', 'resync', 121]);
      const { users: sent, markers } = await drain();
      assert.deepEqual(set(sent.map((m) => m.user.id as string)), set(stack.graph.transitiveUserIds(group)));
      assert.deepEqual(
        markers.map((m) => m.snapshot.users),
        [121],
      );
      assert.ok(logs.some((l) => l.level === 'warning' && /full snapshot instead/.test(l.text)));

      stack.graph.updateUser(users[5]?.id ?? '', { jobTitle: 'Resynced' });
      stack.graph.updateUser(users[300]?.id ?? '', { jobTitle: 'Outside' });
      const next = await syncUsersHandler(timer(), testContext().context);
      assert.deepEqual([next.sends, next.upserts, next.removals], ['changes', 1, 0]);
      assert.deepEqual(
        (await drain()).users.map((m) => m.user.id),
        [users[5]?.id],
      );
    });

    it('a dry run under a group reports joiners and leavers and writes nothing', async () => {
      const users = stack.graph.seed(100);
      const group = stack.graph.addGroup();
      for (const u of users.slice(0, 50)) stack.graph.addMember(group, u.id);
      applySettings(stack, { USERS_QUEUE_NAME: queue, USER_FIELDS: fields, SYNC_GROUP_ID: group });
      await syncUsersHandler(timer(), testContext().context);
      await drain();
      const before = await checkpoint();
      for (const u of users.slice(50, 53)) stack.graph.addMember(group, u.id);
      for (const u of users.slice(0, 2)) stack.graph.removeMember(group, u.id);

      const report = await handleSync(timer(), testContext().context, { dryRun: true });
      assert.deepEqual([report.sends, report.upserts, report.joined, report.removals], ['changes', 3, 3, 2]);
      assert.deepEqual(set([...report.samples.removed]), set(users.slice(0, 2).map((u) => u.id)));
      assert.equal((await drain()).users.length, 0);
      assert.deepEqual(await checkpoint(), before);
    });
  });

  it('reads and keeps a membership of 100,000 users: 16 bytes each in the run state', async () => {
    const users = stack.graph.seed(100_000);
    const group = stack.graph.addGroup();
    for (const u of users) stack.graph.addMember(group, u.id);
    applySettings(stack, { USERS_QUEUE_NAME: queue, SYNC_GROUP_ID: group });
    const runtime = createSyncRuntime(readSettings(process.env));
    const ids = await readMemberIds(runtime, group, undefined);
    assert.equal(ids.size, 100_000);
    const name = runtime.membership.nameFor('run-100k', 1);
    await runtime.membership.save(name, ids);
    const blob = new ContainerClient(stack.azurite.connectionString, 'sync-state').getBlockBlobClient(name);
    assert.equal((await blob.getProperties()).contentLength, 1_600_000);
    const loaded = await runtime.membership.load(name);
    assert.equal(loaded?.size, 100_000);
    for (const u of users) assert.ok(loaded.has(u.id), u.id);
    process.stdout.write(`# membership of 100,000: blob ${(await blob.getProperties()).contentLength ?? 0} bytes\n`);
  });
});
