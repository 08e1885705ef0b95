import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startLocalStack, type LocalStack } from '../../local/stack';
import type { SeedUser } from '../../local/stand-ins/seed';
import { appToken } from '../helpers/graph-delta-client';
import { runNode } from '../helpers/run-node';
import { drainQueue } from '../helpers/stack';

// USER_FIELDS that Graph cannot serve (issue 22, section 2), through the real stack: `npm run sync`
// as a child process against the stand-ins and Azurite. Refused ones exit 2 before any Graph read,
// naming each property, why, and the fix; signInActivity runs in full mode with AuditLog.Read.All
// (a clear 403 without it); licenseAssignmentStates in delta mode runs, with its notice once a run.

const dist = join(__dirname, '..', '..');
const stackFrame = /^\s+at .*:\d+:\d+\)?$/m;
const suiteTmp = mkdtempSync(join(tmpdir(), 'graph-user-sync-fields-'));
after(() => rmSync(suiteTmp, { recursive: true, force: true }));

describe('USER_FIELDS Graph cannot serve, end to end', () => {
  let stack: LocalStack;
  before(async () => {
    stack = await startLocalStack({ users: 40 });
  });
  after(() => stack.stop());

  /** `npm run sync -- --once` with the stack's settings and these over them (a queue of its own unless given). */
  const sync = (overrides: Record<string, string>): ReturnType<typeof runNode> =>
    runNode([join(dist, 'local/sync.js'), '--once'], {
      ...process.env,
      TMPDIR: suiteTmp,
      ...stack.settings,
      ...stack.identityEnvironment,
      USERS_QUEUE_NAME: `fields-${randomUUID().slice(0, 8)}`,
      ...overrides,
    });

  it('properties Graph returns only for one user: exit 2, each named with why and the fix, and Graph never asked', async () => {
    const requests = stack.graph.counters.requests;
    const result = await sync({ USER_FIELDS: 'id,displayName,aboutMe,mail,skills' });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /^Invalid settings \(1\), read from the environment/);
    assert.match(
      result.stderr,
      /- USER_FIELDS "id,displayName,aboutMe,mail,skills" names 2 properties Microsoft Graph cannot serve to this sync, which reads lists of users: aboutMe and skills \(Graph returns them only when reading one user, GET \/users\/\{id\}, and answers a list of users that selects them with 501 Not Implemented\)\. Remove them, e\.g\. USER_FIELDS=id,displayName,mail\n/,
    );
    assert.doesNotMatch(result.stderr, stackFrame);
    assert.equal(stack.graph.counters.requests, requests, 'refused before any Graph request');
  });

  it('the stand-in answers such a list as Graph does: 501 NotImplemented in Graph’s error shape', async () => {
    const response = await fetch(`${stack.graph.url}/v1.0/users?$select=id,aboutMe,skills&$top=999`, {
      headers: { authorization: `Bearer ${await appToken(stack)}` },
    });
    assert.equal(response.status, 501);
    const body = (await response.json()) as { error: { code: string; message: string; innerError: Record<string, string> } };
    assert.deepEqual([body.error.code, body.error.message], ['NotImplemented', 'This operation target is not yet supported.']);
    assert.ok(body.error.innerError['request-id']);
  });

  it('signInActivity in delta mode: exit 2, saying full mode reads it and with which permission', async () => {
    const result = await sync({ SYNC_MODE: 'delta', USER_FIELDS: 'id,displayName,signInActivity,memberOf' });
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      /signInActivity in SYNC_MODE=delta \(Graph's \/users\/delta refuses it in \$select with 400; SYNC_MODE=full reads it from \/users, with the application permission AuditLog\.Read\.All\)/,
    );
    assert.match(result.stderr, /memberOf in SYNC_MODE=delta \(a navigation property of the user/);
    assert.match(result.stderr, /Remove them, e\.g\. USER_FIELDS=id,displayName\n/);
  });

  it('signInActivity in full mode: a clear 403 without AuditLog.Read.All; with it, pages of 500 and the value in the message', async () => {
    const fields = { SYNC_MODE: 'full', USER_FIELDS: 'id,displayName,signInActivity' };
    const denied = await sync(fields);
    assert.equal(denied.code, 1, denied.stderr);
    assert.match(
      denied.stderr,
      /Sync failed \[GRAPH_CONSENT_REQUIRED\]: Microsoft Graph denied GET \/users \(403 Authorization_RequestDenied\): the app needs the application permission User\.Read\.All, and AuditLog\.Read\.All to read signInActivity \(USER_FIELDS\) \(Microsoft Graph\) with admin consent\./,
    );

    stack.entra.apps.get(stack.clientId.toLowerCase())?.appRoles[stack.graph.url]?.push('AuditLog.Read.All');
    const activity = { lastSignInDateTime: '2025-05-04T15:35:02Z', lastSignInRequestId: 'c7df2760-2c81-4ef7-b578-5b5392b571df' };
    const signedIn = stack.graph.users[3] as SeedUser;
    (signedIn as unknown as Record<string, unknown>)['signInActivity'] = activity;
    const queue = `fields-${randomUUID().slice(0, 8)}`;
    const start = stack.graph.requestLog.length;
    const result = await sync({ ...fields, USERS_QUEUE_NAME: queue });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(
      stack.graph.requestLog.slice(start).some((url) => /\$select=id,displayName,signInActivity&\$top=500$/.test(url)),
      stack.graph.requestLog.slice(start).join('\n'),
    );
    const messages = await drainQueue(stack.azurite.connectionString, queue);
    assert.equal(messages.length, 40);
    assert.deepEqual((messages.find((m) => m.user['id'] === signedIn.id)?.user as Record<string, unknown> | undefined)?.['signInActivity'], activity);
  });

  it('licenseAssignmentStates in delta mode: runs, with the notice once a run; a change to it alone sends nothing, as it says', async () => {
    const settings = { SYNC_MODE: 'delta', USER_FIELDS: 'id,displayName,licenseAssignmentStates', USERS_QUEUE_NAME: `fields-${randomUUID().slice(0, 8)}` };
    const notice = /USER_FIELDS selects licenseAssignmentStates, whose changes Graph's \/users\/delta does not track/g;
    const first = await sync(settings);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(`${first.stdout}${first.stderr}`.match(notice)?.length, 1, `${first.stdout}${first.stderr}`);
    assert.equal((await drainQueue(stack.azurite.connectionString, settings.USERS_QUEUE_NAME)).length, 40);

    const licensed = stack.graph.users[5] as SeedUser;
    stack.graph.updateUser(licensed.id, { licenseAssignmentStates: [{ skuId: 'sku-e5', state: 'Active' }] } as Partial<SeedUser>);
    const second = await sync(settings);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(`${second.stdout}${second.stderr}`.match(notice)?.length, 1, 'said again at the next run, once');
    assert.deepEqual(await drainQueue(stack.azurite.connectionString, settings.USERS_QUEUE_NAME), [], 'Graph does not track it: nothing to send');
  });
});
