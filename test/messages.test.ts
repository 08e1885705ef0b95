import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SyncError, SyncErrorCodes } from '../shared/errors';
import { buildUserMessage, decodeMessage, encodeMessage, maxQueueMessageBytes, messageSchemaVersion } from '../shared/messages';
import { parseUsersPage } from '../shared/users';

const run = { runId: 'run-1', runAt: new Date('2026-11-21T06:00:00.000Z') };

describe('messages', () => {
  it('builds a versioned message with the run and exactly the selected fields', () => {
    const [user] = parseUsersPage({ value: [{ id: 'u1', displayName: 'Zoë Ångström', mail: null }] }, ['id', 'displayName', 'mail', 'accountEnabled']).users;
    assert.ok(user);
    assert.deepEqual(buildUserMessage(user, run), {
      schemaVersion: messageSchemaVersion,
      runId: 'run-1',
      runAt: '2026-11-21T06:00:00.000Z',
      user: { id: 'u1', displayName: 'Zoë Ångström', mail: null, accountEnabled: null },
    });
  });

  it('encodes as base64 of UTF-8 JSON by default, or plain JSON, and decodes back', () => {
    const [user] = parseUsersPage({ value: [{ id: 'u1', displayName: '李 小龍 & <Co>' }] }, ['id', 'displayName']).users;
    assert.ok(user);
    const message = buildUserMessage(user, run);
    const b64 = encodeMessage(message, 'base64');
    assert.match(b64, /^[A-Za-z0-9+/]+=*$/);
    assert.deepEqual(JSON.parse(Buffer.from(b64, 'base64').toString('utf8')), message);
    assert.deepEqual(decodeMessage(b64, 'base64'), message);
    assert.equal(encodeMessage(message, 'none'), JSON.stringify(message));
  });

  it('refuses a message over the 64 KiB queue limit, naming the user and the setting', () => {
    const [user] = parseUsersPage({ value: [{ id: 'big-user', aboutMe: 'x'.repeat(50_000) }] }, ['id', 'aboutMe']).users;
    assert.ok(user);
    const message = buildUserMessage(user, run);
    assert.ok(encodeMessage(message, 'none').length < maxQueueMessageBytes);
    assert.throws(
      () => encodeMessage(message, 'base64'),
      (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.messageTooLarge && /big-user/.test(error.message) && /USER_FIELDS/.test(error.message),
    );
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
