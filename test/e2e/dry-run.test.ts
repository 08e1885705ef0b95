import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ContainerClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import { handleSync, syncUsersHandler } from '../../functions/sync-users/handler';
import type { LocalStack } from '../../local/stack';
import { prng } from '../../local/stand-ins/seed';
import { applySettings, drainQueue, startStackForTests, testContext, timer } from '../helpers/stack';

// The dry run (issue 12, part 3) through the handler: it reads what a run would read and writes
// nothing: no queue, no message, no checkpoint, no container.
describe('dry run', () => {
  let stack: LocalStack;
  let queue: string;
  before(async () => {
    stack = await startStackForTests();
  });
  after(() => stack.stop());
  beforeEach(() => {
    queue = `dry-${randomUUID().slice(0, 8)}`;
    applySettings(stack, { USERS_QUEUE_NAME: queue, USER_FIELDS: 'id,displayName,jobTitle,department,mobilePhone,officeLocation', SYNC_MAX_REMOVALS: '40' });
  });
  const state = (): ReturnType<ContainerClient['getBlockBlobClient']> =>
    new ContainerClient(stack.azurite.connectionString, 'sync-state').getBlockBlobClient(`${queue}.json`);

  it('before any run: reports the snapshot a first delta run would send, and creates neither the queue nor the run state', async () => {
    const seeded = stack.graph.seed(450);
    const { context, logs } = testContext();
    const report = await handleSync(timer(), context, { dryRun: true });
    assert.deepEqual(
      [report.mode, report.sends, report.snapshotReason, report.snapshots, report.upserts, report.pages, report.resumes],
      ['delta', 'snapshot', 'first-delta', 450, 0, 3, undefined],
    );
    assert.deepEqual(
      report.samples.snapshot,
      seeded.slice(0, 5).map((u) => u.id),
      'the first ids, in the order Graph gives them',
    );
    assert.equal(await new QueueClient(stack.azurite.connectionString, queue).exists(), false, 'no queue');
    assert.equal(await state().exists(), false, 'no run state');
    assert.match(
      logs.find((l) => l.text.startsWith('Dry run'))?.text ?? '',
      /^Dry run \(delta mode, a snapshot \(first-delta\)\): nothing was written\. It would send 450 snapshot users, 0 upserts and 0 removals, from 450 entries read in 3 pages/,
    );
  });

  it('after a run and some changes: the same changes a run would send, the guard verdict, and the queue and checkpoint untouched', async () => {
    stack.graph.seed(500);
    await syncUsersHandler(timer(), testContext().context);
    await drainQueue(stack.azurite.connectionString, queue);
    const changes = stack.graph.churn(60, prng(3));
    const removed = changes.filter((c) => c.kind === 'softDeleted' || c.kind === 'hardDeleted');
    const upserted = changes.filter((c) => !removed.includes(c));
    const before = await state().getProperties();

    const report = await handleSync(timer(), testContext().context, { dryRun: true });
    assert.ok(removed.length > 10 && removed.length <= 40, `${removed.length} removals`);
    assert.deepEqual(
      [report.sends, report.upserts, report.removals, report.guard.counted, report.guard.threshold, report.guard.wouldHold],
      ['changes', upserted.length, removed.length, removed.length, 40, false],
    );
    assert.ok(report.samples.removed.every((id) => removed.some((c) => c.id === id)));
    assert.ok(report.samples.upserted.every((id) => upserted.some((c) => c.id === id)));
    assert.equal((await state().getProperties()).etag, before.etag, 'the checkpoint was not written');
    assert.equal((await drainQueue(stack.azurite.connectionString, queue)).length, 0, 'no message');

    // A lower threshold: the dry run says the guard would hold the run, and that no removal would go.
    applySettings(stack, { USERS_QUEUE_NAME: queue, USER_FIELDS: 'id,displayName,jobTitle,department,mobilePhone,officeLocation', SYNC_MAX_REMOVALS: '10' });
    const { context, logs } = testContext();
    const held = await handleSync(timer(), context, { dryRun: true });
    assert.deepEqual([held.removals, held.guard.counted, held.guard.threshold, held.guard.wouldHold], [0, removed.length, 10, true]);
    assert.ok(logs.some((l) => new RegExp(`the mass-deletion guard would hold the run: ${removed.length} removals over the threshold of 10`).test(l.text)));
    assert.equal((await state().getProperties()).etag, before.etag);

    // The real run afterwards sends what the dry run said.
    applySettings(stack, { USERS_QUEUE_NAME: queue, USER_FIELDS: 'id,displayName,jobTitle,department,mobilePhone,officeLocation', SYNC_MAX_REMOVALS: '1000' });
    const summary = await syncUsersHandler(timer(), testContext().context);
    assert.deepEqual([summary.upserts, summary.removals], [report.upserts, removed.length]);
  });
});
