import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ContainerClient } from '@azure/storage-blob';
import { syncUsersHandler } from '../../functions/sync-users/handler';
import { messageIdOf, parseCheckpoint, type RunCheckpoint, SyncError, SyncErrorCodes, type UserMessage, type UserStateMessage } from '../../shared/internal';
import { createSyncRuntime, readSettings, runSync } from '../../shared';
import type { LocalStack } from '../../local/stack';
import { applySettings, drainQueue, startStackForTests, testContext, timer } from '../helpers/stack';

// A failed run resumes where it stopped, through the Function handler, the real SDKs, the
// stand-ins and Azurite (queue and blob): the checkpoint, the run lock, the message ids, the
// claim check.
describe('run checkpoint and resume, end to end', () => {
  let stack: LocalStack;
  let queue: string;
  before(async () => {
    stack = await startStackForTests();
  });
  after(() => stack.stop());
  beforeEach(() => {
    stack.graph.faults.length = 0;
    stack.faults.clear();
    queue = `resume-${randomUUID().slice(0, 8)}`;
    applySettings(stack, { USERS_QUEUE_NAME: queue, SYNC_MODE: 'full' });
  });

  const state = (): ContainerClient => new ContainerClient(stack.azurite.connectionString, 'sync-state');
  async function checkpoint(): Promise<RunCheckpoint | undefined> {
    return parseCheckpoint((await state().getBlockBlobClient(`${queue}.json`).downloadToBuffer()).toString('utf8'));
  }

  function countIds(messages: readonly UserMessage[]): Map<string, number> {
    const counts = new Map<string, number>();
    for (const m of messages) counts.set(m.user['id'] as string, (counts.get(m.user['id'] as string) ?? 0) + 1);
    return counts;
  }

  it('a run that fails on page 2 saves page 2 as its resume point; the next run resumes it under the same runId and delivers everyone once', async () => {
    const seeded = stack.graph.seed(2500);
    stack.faults.arm('graph-400@2'); // a permanent failure on page 2
    const first = testContext();
    await assert.rejects(
      syncUsersHandler(timer(), first.context),
      (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.graphBadRequest,
    );
    const saved = await checkpoint();
    assert.ok(saved);
    assert.equal(saved.status, 'running');
    assert.equal(saved.runId, first.context.invocationId);
    assert.equal(saved.pages, 1);
    assert.equal(saved.messages, 999);
    assert.equal(saved.nextLink, stack.graph.issuedNextLinks.at(-1));
    assert.match(first.logs.find((l) => l.level === 'error')?.text ?? '', /the checkpoint holds the last page whose messages were all accepted/);

    const second = testContext();
    const summary = await syncUsersHandler(timer(), second.context);
    assert.equal(summary.resumed, true);
    assert.equal(summary.resumedAtPage, 2);
    assert.equal(summary.runId, first.context.invocationId, 'the same runId');
    assert.equal(summary.entries, 1501);
    assert.ok(second.logs.some((l) => l.level === 'warning' && /Resuming run .* at page 2/.test(l.text)));

    const messages = await drainQueue(stack.azurite.connectionString, queue);
    const counts = countIds(messages);
    assert.equal(counts.size, 2500, 'every user delivered');
    assert.ok(
      [...counts.values()].every((n) => n === 1),
      'no duplicates: page 2 had sent nothing',
    );
    assert.ok(messages.every((m) => m.runId === first.context.invocationId && m.messageId === messageIdOf(m)));
    assert.deepEqual(new Set(messages.map((m) => m.user['id'] as string)), new Set(seeded.map((u) => u.id)));
    const done = await checkpoint();
    assert.equal(done?.status, 'finished');
    assert.equal(done?.nextLink, null);
    assert.equal(done?.messages, 2501, 'the users and the snapshot.completed marker');
    assert.equal(done?.attempts, 2);

    // A finished run leaves nothing to resume: the next run is a new one. (A directory 3 users
    // strong after 2,500 would be held by the mass-deletion guard: allowed here.)
    stack.graph.seed(3);
    applySettings(stack, { USERS_QUEUE_NAME: queue, SYNC_MODE: 'full', SYNC_MAX_REMOVALS: '100%' });
    const third = testContext();
    const fresh = await syncUsersHandler(timer(), third.context);
    assert.equal(fresh.resumed, false);
    assert.equal(fresh.runId, third.context.invocationId);
  });

  it('when Graph refuses the saved page link, the run starts again from the first page under the same runId and says so', async () => {
    stack.graph.seed(2000);
    stack.faults.arm('graph-400@2');
    const first = testContext();
    await assert.rejects(syncUsersHandler(timer(), first.context));
    stack.graph.expireSkipTokens(); // as Graph does with an old skip token
    const second = testContext();
    const summary = await syncUsersHandler(timer(), second.context);
    assert.equal(summary.runId, first.context.invocationId);
    assert.equal(summary.entries, 2000);
    assert.ok(
      second.logs.some(
        (l) => l.level === 'warning' && /saved page link .* has expired; the run reads everything again from the first page under the same runId/.test(l.text),
      ),
    );
    const messages = await drainQueue(stack.azurite.connectionString, queue);
    const counts = countIds(messages);
    assert.equal(counts.size, 2000);
    const replays = [...counts.values()].filter((n) => n === 2).length;
    assert.equal(replays, 999, 'page 1 was sent twice');
    assert.equal(new Set(messages.map((m) => m.messageId)).size, 2000, 'a replay has the same message id');
  });

  it('a second run while one holds the run lock sends nothing and says why', async () => {
    stack.graph.seed(5);
    await syncUsersHandler(timer(), testContext().context); // creates the state blob
    await drainQueue(stack.azurite.connectionString, queue);
    const lease = state().getBlockBlobClient(`${queue}.json`).getBlobLeaseClient();
    await lease.acquireLease(15);
    try {
      const { context, logs } = testContext();
      const summary = await syncUsersHandler(timer(), context);
      assert.equal(summary.outcome, 'locked');
      assert.equal(summary.messages, 0);
      assert.ok(logs.some((l) => l.level === 'warning' && /Another run holds the run lock/.test(l.text)));
      assert.equal((await drainQueue(stack.azurite.connectionString, queue)).length, 0);
    } finally {
      await lease.releaseLease();
    }
  });

  it('a run asked to stop drains its sends, saves the checkpoint and is resumed', async () => {
    stack.graph.seed(3000);
    const controller = new AbortController();
    const { context } = testContext();
    // Stop as page 2 is handed to the queue: the run must finish sending it, or resend it.
    const runtime = createSyncRuntime(readSettings(process.env));
    await assert.rejects(
      runSync(
        runtime,
        { runId: context.invocationId, runAt: new Date() },
        { abortSignal: controller.signal, onProgress: (p) => p.pages === 2 && controller.abort() },
      ),
      (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.runInterrupted && /Stopped on request/.test(error.message),
    );
    const saved = await checkpoint();
    assert.equal(saved?.status, 'running');
    assert.ok((saved?.pages ?? 0) >= 1);
    const summary = await syncUsersHandler(timer(), testContext().context);
    assert.equal(summary.resumed, true);
    const counts = countIds(await drainQueue(stack.azurite.connectionString, queue));
    assert.equal(counts.size, 3000);
  });

  it('a user over the queue limit goes through a claim check: the message names a blob holding the whole user', async () => {
    const seeded = stack.graph.seed(5);
    const big = seeded[2];
    assert.ok(big);
    // A property Graph serves in a list (not aboutMe: only for GET /users/{id}), made large: 2,000 proxy addresses.
    const addresses = Array.from({ length: 2000 }, (_, i) => `smtp:zoë.ångström.${i}@contoso.onmicrosoft.com`);
    (big as unknown as Record<string, unknown>)['proxyAddresses'] = addresses;
    applySettings(stack, { USERS_QUEUE_NAME: queue, SYNC_MODE: 'full', USER_FIELDS: 'id,displayName,proxyAddresses' });
    const summary = await syncUsersHandler(timer(), testContext().context);
    assert.equal(summary.overflowed, 1);
    const messages = await drainQueue(stack.azurite.connectionString, queue);
    assert.equal(messages.length, 5);
    const pointer = messages.find((m): m is UserStateMessage => 'overflow' in m && m.overflow !== undefined);
    assert.ok(pointer?.overflow);
    assert.deepEqual(pointer.user, { id: big.id });
    const stored = JSON.parse(
      (
        await new ContainerClient(stack.azurite.connectionString, pointer.overflow.container).getBlockBlobClient(pointer.overflow.blob).downloadToBuffer()
      ).toString('utf8'),
    ) as UserStateMessage;
    assert.equal(stored.messageId, pointer.messageId);
    assert.deepEqual(stored.user['proxyAddresses'], addresses);
    assert.equal(pointer.overflow.bytes, Buffer.byteLength(JSON.stringify(stored)));
  });
});
