import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SyncError, SyncErrorCodes } from '../shared/errors';
import { buildUserMessage, decodeMessage, encodeMessage, maxQueueMessageBytes, messageIdOf, messageSchemaVersion, overflowMessage } from '../shared/messages';
import { parseUsersPage } from '../shared/users';

const run = { runId: 'run-1', runAt: new Date('2026-11-21T06:00:00.000Z') };

describe('messages', () => {
  it('builds a versioned message with the run and exactly the selected fields', () => {
    const [user] = parseUsersPage({ value: [{ id: 'u1', displayName: 'Zoë Ångström', mail: null }] }, ['id', 'displayName', 'mail', 'accountEnabled']).users;
    assert.ok(user);
    assert.deepEqual(buildUserMessage(user, run), {
      schemaVersion: messageSchemaVersion,
      messageId: messageIdOf('run-1', 'u1'),
      runId: 'run-1',
      runAt: '2026-11-21T06:00:00.000Z',
      user: { id: 'u1', displayName: 'Zoë Ångström', mail: null, accountEnabled: null },
    });
  });

  it('encodes as base64 of UTF-8 JSON by default, or plain JSON, and decodes back', () => {
    const [user] = parseUsersPage({ value: [{ id: 'u1', displayName: '李 小龍 & <Co>' }] }, ['id', 'displayName']).users;
    assert.ok(user);
    const message = buildUserMessage(user, run);
    const b64 = encodeMessage(message, 'base64') ?? assert.fail('fits');
    assert.match(b64, /^[A-Za-z0-9+/]+=*$/);
    assert.deepEqual(JSON.parse(Buffer.from(b64, 'base64').toString('utf8')), message);
    assert.deepEqual(decodeMessage(b64, 'base64'), message);
    assert.equal(encodeMessage(message, 'none'), JSON.stringify(message));
  });

  it('measures the 64 KiB queue limit on the encoded body: over it, no text (the sync then uses a claim check)', () => {
    const [user] = parseUsersPage({ value: [{ id: 'big-user', aboutMe: 'x'.repeat(50_000) }] }, ['id', 'aboutMe']).users;
    assert.ok(user);
    const message = buildUserMessage(user, run);
    assert.ok((encodeMessage(message, 'none') ?? '').length < maxQueueMessageBytes, 'plain JSON fits');
    assert.equal(encodeMessage(message, 'base64'), undefined, 'base64 is a third larger and does not');
    const reference = { url: 'http://127.0.0.1:1/devstoreaccount1/users-overflow/run-1/x.json', container: 'users-overflow', blob: 'run-1/x.json', bytes: 50_100 };
    const small = overflowMessage(message, reference);
    assert.deepEqual(small.user, { id: 'big-user' });
    assert.equal(small.messageId, message.messageId);
    assert.deepEqual(decodeMessage(encodeMessage(small, 'base64') ?? assert.fail('fits'), 'base64').overflow, reference);
  });

  it('gives each run and user a stable message id: the same after a resend, different across runs and users', () => {
    assert.equal(messageIdOf('run-1', 'u1'), messageIdOf('run-1', 'u1'));
    assert.notEqual(messageIdOf('run-1', 'u1'), messageIdOf('run-2', 'u1'));
    assert.notEqual(messageIdOf('run-1', 'u1'), messageIdOf('run-1', 'u2'));
    assert.match(messageIdOf('run-1', 'u1'), /^[0-9a-f]{32}$/);
  });
});

describe('parseUsersPage (the Graph wire format)', () => {
  it('keeps the whole nextLink and maps missing properties to null', () => {
    const page = parseUsersPage({ value: [{ id: 'a' }, { id: 'b', mail: 'b@x' }], '@odata.nextLink': 'https://graph.microsoft.com/v1.0/users?$top=2&$skiptoken=RFNwdAIA' }, ['id', 'mail']);
    assert.equal(page.nextLink, 'https://graph.microsoft.com/v1.0/users?$top=2&$skiptoken=RFNwdAIA');
    assert.deepEqual(page.users.map((u) => u.properties), [{ id: 'a', mail: null }, { id: 'b', mail: 'b@x' }]);
  });

  it('accepts an empty page', () => {
    const page = parseUsersPage({ value: [], '@odata.nextLink': 'https://g/v1.0/users?$skiptoken=x' }, ['id']);
    assert.equal(page.users.length, 0);
    assert.equal(page.nextLink, 'https://g/v1.0/users?$skiptoken=x');
  });

  it('rejects bodies that are not a users page', () => {
    for (const body of [null, {}, { value: {} }, { value: [{ mail: 'no id' }] }, { value: [], '@odata.nextLink': 5 }]) {
      assert.throws(() => parseUsersPage(body, ['id']), (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.graphResponseInvalid);
    }
  });
});
