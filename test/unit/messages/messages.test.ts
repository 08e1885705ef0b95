import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildRemovedMessage,
  buildSnapshotCompleted,
  buildUserMessage,
  decodeMessage,
  type DirectoryUser,
  encodeMessage,
  maxQueueMessageBytes,
  messageIdOf,
  messageSchemaVersion,
  MessageTypes,
  overflowMessage,
  parseUsersPage,
  sequenceOf,
  SyncError,
  SyncErrorCodes,
} from '../../../shared/internal';
import { schemaErrors } from '../../helpers/schema';

const run = { runId: 'run-1', runAt: new Date('2026-11-21T06:00:00.000Z') };

describe('messages (schema version 2)', () => {
  const userOf = (body: unknown, fields: string[]): DirectoryUser => {
    const [entry] = parseUsersPage(body, fields).entries;
    assert.ok(entry?.kind === 'user');
    return entry.user;
  };

  it('builds a snapshot with the run, the selected fields Graph returned and the list of them', () => {
    const user = userOf({ value: [{ id: 'u1', displayName: 'Zoë Ångström', mail: null }] }, ['id', 'displayName', 'mail', 'accountEnabled']);
    const message = buildUserMessage(user, MessageTypes.snapshot, run, sequenceOf(1, 1));
    assert.deepEqual(message, {
      schemaVersion: messageSchemaVersion,
      type: 'user.snapshot',
      messageId: messageIdOf(message),
      runId: 'run-1',
      runAt: '2026-11-21T06:00:00.000Z',
      sequence: 1_000_000_001,
      user: { id: 'u1', displayName: 'Zoë Ångström', mail: null },
      fields: ['id', 'displayName', 'mail'],
    });
    assert.deepEqual(schemaErrors(message), []);
  });

  it('builds upserted, removed and snapshot.completed messages that match the JSON Schema', () => {
    const upserted = buildUserMessage(
      userOf({ value: [{ id: 'u2', jobTitle: 'Risk Officer' }] }, ['id', 'displayName', 'jobTitle']),
      MessageTypes.upserted,
      run,
      7,
    );
    assert.deepEqual(upserted.fields, ['id', 'jobTitle'], 'displayName was never set: absent, and not listed');
    const removed = buildRemovedMessage({ id: 'u3', reason: 'changed' }, run, 8);
    assert.deepEqual(
      { type: removed.type, user: removed.user, removed: removed.removed },
      { type: 'user.removed', user: { id: 'u3' }, removed: { reason: 'changed' } },
    );
    const completed = buildSnapshotCompleted(2500, 'first-delta', run, 2501);
    assert.deepEqual(completed.snapshot, { users: 2500, reason: 'first-delta' });
    for (const message of [upserted, removed, completed]) assert.deepEqual(schemaErrors(message), [], message.type);
  });

  it('the schema refuses what a consumer could misread', () => {
    const good = buildRemovedMessage({ id: 'u3', reason: 'deleted' }, run, 8);
    const bad: Record<string, unknown>[] = [
      { ...good, schemaVersion: 1 },
      { ...good, type: 'user.deleted' },
      { ...good, messageId: 'not-a-hash' },
      { ...good, fields: ['id'] },
      { ...good, removed: {} },
      { ...good, sequence: 0 },
      { ...buildSnapshotCompleted(1, 'resync', run, 2), user: { id: 'x' } },
      { ...buildUserMessage(userOf({ value: [{ id: 'u1' }] }, ['id']), MessageTypes.snapshot, run, 1), fields: ['displayName'] },
      { ...good, extra: true },
    ];
    for (const message of bad) assert.notDeepEqual(schemaErrors(message), [], JSON.stringify(message));
  });

  it('encodes as base64 of UTF-8 JSON by default, or plain JSON, and decodes back', () => {
    const message = buildUserMessage(userOf({ value: [{ id: 'u1', displayName: '李 小龍 & <Co>' }] }, ['id', 'displayName']), MessageTypes.snapshot, run, 1);
    const b64 = encodeMessage(message, 'base64') ?? assert.fail('fits');
    assert.match(b64, /^[A-Za-z0-9+/]+=*$/);
    assert.deepEqual(JSON.parse(Buffer.from(b64, 'base64').toString('utf8')), message);
    assert.deepEqual(decodeMessage(b64, 'base64'), message);
    assert.equal(encodeMessage(message, 'none'), JSON.stringify(message));
  });

  it('measures the 64 KiB queue limit on the encoded body: over it, no text (the sync then uses a claim check)', () => {
    const message = buildUserMessage(userOf({ value: [{ id: 'big-user', aboutMe: 'x'.repeat(50_000) }] }, ['id', 'aboutMe']), MessageTypes.upserted, run, 1);
    assert.ok((encodeMessage(message, 'none') ?? '').length < maxQueueMessageBytes, 'plain JSON fits');
    assert.equal(encodeMessage(message, 'base64'), undefined, 'base64 is a third larger and does not');
    const reference = {
      url: 'http://127.0.0.1:1/devstoreaccount1/users-overflow/run-1/x.json',
      container: 'users-overflow',
      blob: 'run-1/x.json',
      bytes: 66_100,
    };
    const small = overflowMessage(message, reference);
    assert.deepEqual(small.user, { id: 'big-user' });
    assert.deepEqual(small.fields, ['id', 'aboutMe'], 'the fields of the whole user, in the blob');
    assert.equal(small.messageId, message.messageId);
    const decoded = decodeMessage(encodeMessage(small, 'base64') ?? assert.fail('fits'), 'base64');
    assert.deepEqual('overflow' in decoded ? decoded.overflow : undefined, reference);
    assert.deepEqual(schemaErrors(decoded), []);
  });

  it('gives a stable message id per run, type and content: the same after a resend, different across runs, types, users and states', () => {
    const state = (runId: string, type: typeof MessageTypes.snapshot | typeof MessageTypes.upserted, body: Record<string, unknown>): string =>
      buildUserMessage(userOf({ value: [body] }, ['id', 'jobTitle']), type, { ...run, runId }, 1).messageId;
    const u1 = { id: 'u1', jobTitle: 'A' };
    assert.equal(state('run-1', MessageTypes.upserted, u1), state('run-1', MessageTypes.upserted, { ...u1 }));
    assert.equal(
      buildUserMessage(userOf({ value: [u1] }, ['id', 'jobTitle']), MessageTypes.upserted, run, 1).messageId,
      buildUserMessage(userOf({ value: [u1] }, ['id', 'jobTitle']), MessageTypes.upserted, run, 99).messageId,
      'the sequence is not part of the id',
    );
    const ids = [
      state('run-1', MessageTypes.upserted, u1),
      state('run-2', MessageTypes.upserted, u1),
      state('run-1', MessageTypes.snapshot, u1),
      state('run-1', MessageTypes.upserted, { id: 'u2', jobTitle: 'A' }),
      state('run-1', MessageTypes.upserted, { id: 'u1', jobTitle: 'B' }),
      buildRemovedMessage({ id: 'u1', reason: 'changed' }, run, 1).messageId,
      buildRemovedMessage({ id: 'u1', reason: 'deleted' }, run, 1).messageId,
    ];
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
  });
});

describe('parseUsersPage (the Graph wire format)', () => {
  it('keeps the whole nextLink, the selected properties Graph returned (null ones too) and leaves out the others', () => {
    const page = parseUsersPage(
      {
        value: [{ id: 'a' }, { id: 'b', mail: 'b@x', jobTitle: null, unselected: 1 }],
        '@odata.nextLink': 'https://graph.microsoft.com/v1.0/users?$top=2&$skiptoken=RFNwdAIA',
      },
      ['id', 'mail', 'jobTitle'],
    );
    assert.equal(page.nextLink, 'https://graph.microsoft.com/v1.0/users?$top=2&$skiptoken=RFNwdAIA');
    assert.equal(page.deltaLink, undefined);
    assert.deepEqual(
      page.entries.map((e) => (e.kind === 'user' ? e.user.properties : e)),
      [{ id: 'a' }, { id: 'b', mail: 'b@x', jobTitle: null }],
    );
  });

  it('maps a delta page: @removed entries with their reason, in order, and the deltaLink of the last page', () => {
    const page = parseUsersPage(
      {
        value: [
          { id: 'a', mail: 'a@x' },
          { id: 'b', '@removed': { reason: 'changed' } },
          { id: 'c', '@removed': { reason: 'deleted' } },
        ],
        '@odata.deltaLink': 'https://g/v1.0/users/delta?$deltatoken=t',
      },
      ['id', 'mail'],
    );
    assert.deepEqual(page.entries, [
      { kind: 'user', user: { id: 'a', properties: { id: 'a', mail: 'a@x' } } },
      { kind: 'removed', removed: { id: 'b', reason: 'changed' } },
      { kind: 'removed', removed: { id: 'c', reason: 'deleted' } },
    ]);
    assert.equal(page.nextLink, undefined);
    assert.equal(page.deltaLink, 'https://g/v1.0/users/delta?$deltatoken=t');
  });

  it('accepts an empty page', () => {
    const page = parseUsersPage({ value: [], '@odata.nextLink': 'https://g/v1.0/users?$skiptoken=x' }, ['id']);
    assert.equal(page.entries.length, 0);
    assert.equal(page.nextLink, 'https://g/v1.0/users?$skiptoken=x');
  });

  it('rejects bodies that are not a users page', () => {
    for (const body of [null, {}, { value: {} }, { value: [{ mail: 'no id' }] }, { value: [], '@odata.nextLink': 5 }, { value: [], '@odata.deltaLink': 5 }]) {
      assert.throws(
        () => parseUsersPage(body, ['id']),
        (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.graphResponseInvalid,
      );
    }
  });

  it('reads an @removed without a reason as deleted, marked as such (not a failed run)', () => {
    for (const removed of [{}, { reason: '' }, null]) {
      const page = parseUsersPage({ value: [{ id: 'a', '@removed': removed }] }, ['id']);
      assert.deepEqual(page.entries, [{ kind: 'removed', removed: { id: 'a', reason: 'deleted', reasonMissing: true } }]);
    }
  });
});
