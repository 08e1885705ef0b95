import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { syncUsersHandler } from '../../functions/sync-users/handler';
import { messageIdOf, messageSchemaVersion } from '../../shared/internal';
import type { LocalStack } from '../../local/stack';
import { applySettings, clearQueue, drainQueue, drainQueueSplit, startStackForTests, testContext, timer } from '../helpers/stack';

// The exported Function handler, a real InvocationContext, the local stand-ins and Azurite:
// every message read back, checked against the message schema and compared with the seeded
// users. SYNC_MODE=full here (GET /users, every user every run); delta.e2e covers delta mode.
const full = { SYNC_MODE: 'full' };

describe('syncUsers end to end, full mode', () => {
  let stack: LocalStack;
  before(async () => {
    stack = await startStackForTests();
  });
  after(() => stack.stop());
  beforeEach(async () => {
    applySettings(stack, full);
    await clearQueue(stack.azurite.connectionString, 'users');
  });

  for (const count of [0, 1, 999, 1000, 2500]) {
    it(`writes one message per user for ${count} users`, async () => {
      const seeded = stack.graph.seed(count);
      const { context, logs } = testContext();
      const summary = await syncUsersHandler(timer(), context);
      assert.equal(summary.entries, count);
      assert.equal(summary.pages, Math.max(1, Math.ceil(count / 999)));

      const { users: messages, markers } = await drainQueueSplit(stack.azurite.connectionString, 'users');
      assert.equal(messages.length, count);
      assert.deepEqual(
        markers.map((m) => [m.runId, m.snapshot, m.sequence]),
        [[context.invocationId, { users: count, reason: 'full-mode' }, 1_000_000_000 + count + 1]],
        'one snapshot.completed, after every user',
      );
      const byId = new Map(messages.map((m) => [m.user['id'] as string, m]));
      assert.equal(byId.size, count, 'one message per user, no duplicates');
      for (const user of seeded) {
        const message = byId.get(user.id);
        assert.ok(message, `no message for ${user.id}`);
        assert.deepEqual(message, {
          schemaVersion: messageSchemaVersion,
          type: 'user.snapshot',
          messageId: messageIdOf(message),
          runId: context.invocationId,
          runAt: summary.runAt,
          sequence: message.sequence,
          user: { id: user.id, displayName: user.displayName, mail: user.mail, userPrincipalName: user.userPrincipalName, accountEnabled: user.accountEnabled },
          fields: ['id', 'displayName', 'mail', 'userPrincipalName', 'accountEnabled'],
        });
      }
      assert.deepEqual(
        messages.map((m) => m.sequence).sort((a, b) => a - b),
        seeded.map((_, i) => 1_000_000_001 + i),
        'sequence: the position in the walk',
      );
      const summaryLine = logs.find((l) => l.level === 'information' && l.text.startsWith(`[run ${context.invocationId}] Sync finished`));
      assert.ok(summaryLine, 'one summary line');
      // Plural only when plural: "1 user read", "0 users read", "1 page".
      const s = (n: number): string => (n === 1 ? '' : 's');
      assert.match(
        summaryLine.text,
        new RegExp(
          `^\\[run ${context.invocationId}\\] Sync finished \\(full mode, snapshot \\(full-mode\\): ${count} snapshot user${s(count)}\\): ${count} entr${count === 1 ? 'y' : 'ies'} read in ${summary.pages} page${s(summary.pages)}, ${count + 1} message${s(count + 1)} written to .*, \\d+ ms, token from cache: (yes|no)`,
        ),
      );
      assert.equal(summary.messages, count + 1, 'the users and the marker');
    });
  }

  it('honours USER_FIELDS as $select, and the plain-text encoding', async () => {
    const seeded = stack.graph.seed(5);
    applySettings(stack, {
      ...full,
      USER_FIELDS: 'displayName,jobTitle,businessPhones',
      USERS_QUEUE_MESSAGE_ENCODING: 'none',
      USERS_QUEUE_NAME: 'users-plain',
    });
    const start = stack.graph.requestLog.length;
    await syncUsersHandler(timer(), testContext().context);
    assert.match(stack.graph.requestLog[start] ?? '', /\?\$select=id,displayName,jobTitle,businessPhones&\$top=999$/);
    const messages = await drainQueue(stack.azurite.connectionString, 'users-plain', 'none');
    assert.deepEqual(
      messages.map((m) => m.user),
      seeded.map((u) => ({ id: u.id, displayName: u.displayName, jobTitle: u.jobTitle, businessPhones: u.businessPhones })),
    );
  });

  it('reads the secret once across two runs and takes the second token from the cache', async () => {
    stack.graph.seed(3);
    applySettings(stack, { ...full, USERS_QUEUE_NAME: 'users-cache' }); // a new runtime: a fresh secret cache and msal app
    const secretReads = stack.keyVault.counters.secretReads;
    const tokenRequests = stack.entra.counters.tokenRequests;
    const first = await syncUsersHandler(timer(), testContext().context);
    const { context, logs } = testContext();
    const second = await syncUsersHandler(timer(), context);
    assert.equal(first.tokenFromCache, false);
    assert.equal(second.tokenFromCache, true);
    assert.equal(stack.keyVault.counters.secretReads - secretReads, 1, 'the secret is read from Key Vault once');
    assert.equal(stack.entra.counters.tokenRequests - tokenRequests, 1, 'the token endpoint sees one request');
    assert.ok(logs.some((l) => /token from cache: yes/.test(l.text)));
    assert.equal((await drainQueue(stack.azurite.connectionString, 'users-cache')).length, 6);
  });

  it('logs no secret, no token and no personal data beyond ids', async () => {
    const seeded = stack.graph.seed(20);
    applySettings(stack, { ...full, USERS_QUEUE_NAME: 'users-logs' });
    const { context, logs } = testContext();
    await syncUsersHandler(timer(), context);
    const text = logs.map((l) => l.text).join('\n');
    assert.doesNotMatch(text, new RegExp(stack.clientSecret.replace(/[~.]/g, '\\$&')));
    assert.doesNotMatch(text, /eyJ[\w-]+\.[\w-]+\./, 'no JWT');
    assert.doesNotMatch(text, /AccountKey|Eby8vdM0/);
    for (const user of seeded) {
      assert.ok(!text.includes(user.displayName), 'no display name');
      assert.ok(!text.includes(user.userPrincipalName), 'no UPN');
      if (user.mail !== null) assert.ok(!text.includes(user.mail), 'no mail');
    }
  });
});
