import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ContainerClient } from '@azure/storage-blob';
import { handleSync, syncUsersHandler } from '../../functions/sync-users/handler';
import { parseCheckpoint, SyncError, SyncErrorCodes, type RunCheckpoint } from '../../shared/internal';
import type { LocalStack } from '../../local/stack';
import { applySettings, byUser, drainQueueSplit, startStackForTests, testContext, timer } from '../helpers/stack';

// A first delta run as fast as a full one (issue 22 §5): with GRAPH_PARALLEL_READS above 1, a delta
// snapshot takes the delta link for now first (/users/delta?$deltatoken=latest), reads /users in
// ranges side by side, sends user.snapshot and snapshot.completed, and saves the link taken before
// the read: the next run replays what changed meanwhile. Through the handler, the real SDKs, the
// Graph stand-in (its directory changed between pages) and Azurite.
const fields = 'id,displayName,mail,userPrincipalName,jobTitle';

describe('delta mode, a snapshot read from now with parallel reads', () => {
  let stack: LocalStack;
  let queue: string;
  before(async () => {
    stack = await startStackForTests();
  });
  after(() => stack.stop());
  beforeEach(() => {
    stack.faults.clear();
    stack.graph.beforePage = undefined;
    stack.graph.principalNameRanges = 'honoured';
    queue = `from-now-${randomUUID().slice(0, 8)}`;
    applySettings(stack, { USERS_QUEUE_NAME: queue, USER_FIELDS: fields, GRAPH_PARALLEL_READS: '4', SYNC_MAX_REMOVALS: '1000' });
  });

  async function checkpoint(): Promise<RunCheckpoint | undefined> {
    const blob = new ContainerClient(stack.azurite.connectionString, 'sync-state').getBlockBlobClient(`${queue}.json`);
    return parseCheckpoint((await blob.downloadToBuffer()).toString('utf8'));
  }
  const drain = (): ReturnType<typeof drainQueueSplit> => drainQueueSplit(stack.azurite.connectionString, queue);
  const latestRequests = (from: number): string[] => stack.graph.requestLog.slice(from).filter((u) => u.includes('$deltatoken=latest'));

  it('the first delta run takes the link first, reads /users in ranges, sends every user once and snapshot.completed, and saves that link', async () => {
    stack.graph.seed(1500);
    const before = stack.graph.requestLog.length;
    const linksBefore = stack.graph.issuedDeltaLinks.length;
    const summary = await syncUsersHandler(timer(), testContext().context);
    assert.deepEqual(
      [summary.mode, summary.sends, summary.snapshotReason, summary.snapshots, summary.upserts, summary.deltaLinkAdvanced, summary.messages],
      ['delta', 'snapshot', 'first-delta', 1500, 0, true, 1501],
    );
    const requests = stack.graph.requestLog.slice(before);
    assert.match(requests[0] ?? '', /^\/v1\.0\/users\/delta\?\$select=id,displayName,mail,userPrincipalName,jobTitle&\$deltatoken=latest$/, 'the link first');
    assert.equal(requests.filter((u) => u.startsWith('/v1.0/users/delta')).length, 1, 'and no walk of /users/delta');
    assert.equal(requests.filter((u) => u.includes('$filter=userPrincipalName')).length, 37, 'the ranges, one page each here');
    const { users, markers } = await drain();
    assert.equal(users.length, 1500);
    assert.deepEqual(new Set(users.map((m) => m.user.id)), new Set(stack.graph.users.map((u) => u.id)));
    assert.ok(users.every((m) => m.type === 'user.snapshot' && m.runId === summary.runId));
    assert.deepEqual(
      markers.map((m) => m.snapshot),
      [{ users: 1500, reason: 'first-delta' }],
    );
    const saved = await checkpoint();
    assert.equal(stack.graph.issuedDeltaLinks.length, linksBefore + 1, 'one delta link issued: the one taken first');
    assert.deepEqual(
      [saved?.status, saved?.deltaLink, saved?.deltaFields?.join(','), saved?.knownUsers, saved?.messages],
      ['finished', stack.graph.issuedDeltaLinks.at(-1), fields, 1500, 1501],
    );
    const next = await syncUsersHandler(timer(), testContext().context);
    assert.deepEqual([next.sends, next.messages], ['changes', 0], 'nothing changed since: nothing sent');
  });

  it('what changes while the snapshot is read comes in the next run: updates, adds, soft and hard deletes', async () => {
    const seeded = stack.graph.seed(1200);
    const [updatedEarly, updatedLate, softDeleted, hardDeleted] = seeded;
    assert.ok(updatedEarly && updatedLate && softDeleted && hardDeleted);
    const changed = new Map<string, string>();
    let served = 0;
    stack.graph.beforePage = (_request, url) => {
      if (!url.includes('$filter=userPrincipalName')) return;
      served++;
      if (served === 5) {
        // Some ranges read, others not yet: the snapshot may or may not show these; the next run must.
        stack.graph.updateUser(updatedEarly.id, { jobTitle: 'Changed during the read' });
        changed.set(updatedEarly.id, 'user.upserted');
        const added = stack.graph.addUser({ jobTitle: 'Added during the read' });
        changed.set(added.id, 'user.upserted');
        stack.graph.softDeleteUser(softDeleted.id);
        changed.set(softDeleted.id, 'removed:changed');
      }
      if (served === 30) {
        stack.graph.updateUser(updatedLate.id, { displayName: 'Renamed during the read' });
        changed.set(updatedLate.id, 'user.upserted');
        stack.graph.hardDeleteUser(hardDeleted.id);
        changed.set(hardDeleted.id, 'removed:deleted');
      }
    };
    const first = await syncUsersHandler(timer(), testContext().context);
    assert.equal(first.sends, 'snapshot');
    const snapshot = await drain();
    assert.equal(new Set(snapshot.users.map((m) => m.user.id)).size, snapshot.users.length, 'each user once in the snapshot');
    assert.equal(snapshot.markers.length, 1);
    stack.graph.beforePage = undefined;

    const second = await syncUsersHandler(timer(), testContext().context);
    assert.deepEqual([second.sends, second.upserts, second.removals], ['changes', 3, 2]);
    const { users } = await drain();
    assert.deepEqual(byUser(users), changed, 'every change made during the read, and nothing else');
    const late = users.find((m) => m.user.id === updatedLate.id);
    assert.equal(late?.type === 'user.upserted' ? late.user['displayName'] : undefined, 'Renamed during the read');
  });

  it('a run that fails mid-snapshot resumes with the link it took, reads on, and the next run still replays from it', async () => {
    stack.graph.seed(60);
    // Range 'a' of two pages: its second page is refused once (a permanent 400, as a fault).
    for (let i = 0; i < 1100; i++) stack.graph.addUser({ userPrincipalName: `a${String(i).padStart(4, '0')}@contoso.example` });
    let armed = false;
    stack.graph.beforePage = (_request, url) => {
      if (armed || !url.includes('$skiptoken=') || !decodeURIComponent(url).includes("ge 'a' and")) return;
      armed = true;
      stack.faults.arm('graph-400@1');
    };
    const linksBefore = stack.graph.issuedDeltaLinks.length;
    const failed = testContext();
    await assert.rejects(
      syncUsersHandler(timer(), failed.context),
      (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.graphBadRequest,
    );
    const taken = stack.graph.issuedDeltaLinks.at(-1);
    assert.equal(stack.graph.issuedDeltaLinks.length, linksBefore + 1);
    const saved = await checkpoint();
    assert.deepEqual(
      [saved?.status, saved?.kind, saved?.deltaNext, saved?.deltaLink],
      ['running', 'snapshot', taken, null],
      'the link taken first, in the checkpoint',
    );
    assert.ok(
      saved?.partitions?.some((p) => !p.done && p.next !== null),
      'range a stands at its second page',
    );
    const accepted = (await drain()).users;
    // Changed between the attempts: after the link was taken, so the run after next must send it.
    const [between] = stack.graph.users;
    assert.ok(between !== undefined);
    stack.graph.updateUser(between.id, { jobTitle: 'Changed between the attempts' });

    const before = stack.graph.requestLog.length;
    const resumed = await syncUsersHandler(timer(), testContext().context);
    assert.deepEqual([resumed.runId, resumed.resumed, resumed.sends, resumed.snapshotReason], [failed.context.invocationId, true, 'snapshot', 'first-delta']);
    assert.equal(latestRequests(before).length, 0, 'no new link: the one taken first is kept');
    const { users, markers } = await drain();
    assert.deepEqual(new Set([...accepted, ...users].map((m) => m.user.id)), new Set(stack.graph.users.map((u) => u.id)), 'every user delivered');
    assert.deepEqual(
      markers.map((m) => m.snapshot.users),
      [1160],
    );
    assert.deepEqual([(await checkpoint())?.deltaLink, (await checkpoint())?.knownUsers], [taken, 1160]);

    const next = await syncUsersHandler(timer(), testContext().context);
    assert.equal(next.sends, 'changes');
    assert.deepEqual(byUser((await drain()).users), new Map([[between.id, 'user.upserted']]));
  });

  it('a resync (expired delta link) reads from now too; GRAPH_PARALLEL_READS=1 keeps the walk of /users/delta', async () => {
    stack.graph.seed(450);
    await syncUsersHandler(timer(), testContext().context);
    await drain();
    stack.graph.expireDeltaTokens();
    const before = stack.graph.requestLog.length;
    const { context, logs } = testContext();
    const resync = await syncUsersHandler(timer(), context);
    assert.deepEqual([resync.sends, resync.snapshotReason, resync.snapshots], ['snapshot', 'resync', 450]);
    assert.ok(logs.some((l) => l.level === 'warning' && /no longer knows the saved delta link/.test(l.text)));
    assert.equal(latestRequests(before).length, 1);
    assert.ok(stack.graph.requestLog.slice(before).some((u) => u.includes('$filter=userPrincipalName')));
    assert.equal((await drain()).markers.length, 1);
    assert.equal((await syncUsersHandler(timer(), testContext().context)).sends, 'changes');

    const sequentialQueue = `${queue}-one`;
    applySettings(stack, { USERS_QUEUE_NAME: sequentialQueue, USER_FIELDS: fields, GRAPH_PARALLEL_READS: '1' });
    const start = stack.graph.requestLog.length;
    const one = await syncUsersHandler(timer(), testContext().context);
    assert.deepEqual([one.sends, one.snapshots, one.pages], ['snapshot', 450, 3], '/users/delta, 200 a page');
    const requests = stack.graph.requestLog.slice(start);
    assert.equal(latestRequests(start).length, 0);
    assert.ok(requests.every((u) => !u.includes('$filter')));
    assert.match(requests[0] ?? '', /^\/v1\.0\/users\/delta\?\$select=[^&]+$/);
    await drainQueueSplit(stack.azurite.connectionString, sequentialQueue);
  });

  it('ranges Graph refuses in a delta snapshot: one walk of /users, the link taken first kept, every user once', async () => {
    stack.graph.seed(1300);
    stack.graph.principalNameRanges = 'refused';
    const { context, logs } = testContext();
    const summary = await syncUsersHandler(timer(), context);
    assert.deepEqual([summary.sends, summary.snapshots, summary.deltaLinkAdvanced], ['snapshot', 1300, true]);
    assert.equal(logs.filter((l) => /GRAPH_PARALLEL_READS=4: .*one sequential walk instead/.test(l.text)).length, 1);
    const { users } = await drain();
    assert.equal(users.length, 1300);
    assert.equal(new Set(users.map((m) => m.user.id)).size, 1300);
    assert.equal((await checkpoint())?.deltaLink, stack.graph.issuedDeltaLinks.at(-1));
    const changed = stack.graph.users[7];
    assert.ok(changed !== undefined);
    stack.graph.updateUser(changed.id, { jobTitle: 'After the snapshot' });
    assert.equal((await syncUsersHandler(timer(), testContext().context)).sends, 'changes');
    assert.deepEqual(byUser((await drain()).users), new Map([[changed.id, 'user.upserted']]), 'the next run replays from the link taken first');
  });

  it('the dry run decides the same way: a first delta dry run reads the ranges, writes nothing', async () => {
    stack.graph.seed(800);
    const before = stack.graph.requestLog.length;
    const report = await handleSync(timer(), testContext().context, { dryRun: true });
    assert.deepEqual([report.sends, report.snapshotReason, report.snapshots, report.pages], ['snapshot', 'first-delta', 800, 37]);
    const requests = stack.graph.requestLog.slice(before);
    assert.ok(
      requests.every((u) => !u.startsWith('/v1.0/users/delta')),
      'neither the link (nothing keeps it) nor a walk of /users/delta',
    );
    assert.equal(requests.filter((u) => u.includes('$filter=userPrincipalName')).length, 37);
  });
});
