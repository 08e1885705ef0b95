import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { syncUsersHandler } from '../../functions/sync-users/handler';
import { SyncError, type SyncErrorCode, SyncErrorCodes } from '../../shared/internal';
import type { LocalStack } from '../../local/stack';
import { applySettings, clearQueue, drainQueue, startStackForTests, testContext, timer } from '../helpers/stack';

// Each error a user will meet, through the Function handler: the thrown SyncError's code and the
// one error line logged through the invocation context, which must say what to fix.
describe('syncUsers errors, end to end', () => {
  let stack: LocalStack;
  before(async () => {
    stack = await startStackForTests();
  });
  after(() => stack.stop());
  beforeEach(() => {
    stack.graph.seed(5);
    stack.graph.faults.length = 0;
    stack.faults.clear();
  });

  async function expectFailure(code: SyncErrorCode, overrides: Record<string, string | undefined>, ...patterns: RegExp[]): Promise<string> {
    // A queue name per case gives each case a fresh runtime (no secret or token cached from before).
    applySettings(stack, { USERS_QUEUE_NAME: `err-${randomUUID().slice(0, 8)}`, ...overrides });
    const { context, logs } = testContext();
    await assert.rejects(syncUsersHandler(timer(), context), (error: unknown) => {
      assert.ok(error instanceof SyncError, String(error));
      assert.equal(error.code, code, error.message);
      return true;
    });
    const errors = logs.filter((l) => l.level === 'error');
    assert.equal(errors.length, 1);
    const line = errors[0]?.text ?? '';
    assert.ok(line.startsWith(`[run ${context.invocationId}] Sync failed [${code}]: `), line);
    for (const p of patterns) assert.match(line, p);
    assert.doesNotMatch(line, /\n\s+at /, 'no stack trace');
    assert.doesNotMatch(line, /eyJ[\w-]+\.[\w-]+\./, 'no token');
    return line;
  }

  it('invalid settings: every problem at once', async () => {
    await expectFailure(
      SyncErrorCodes.settingsInvalid,
      { GRAPH_CLIENT_ID: 'not-a-guid', SYNC_SCHEDULE: '* * *' },
      /Invalid settings \(2\), read from the Function App's app settings \(local\.settings\.json under func start\); fix them there/,
      /GRAPH_CLIENT_ID "not-a-guid"/,
      /SYNC_SCHEDULE "\* \* \*" has 3 fields/,
    );
  });

  it('wrong secret (AADSTS7000215): names the Key Vault secret and says to store the value', async () => {
    stack.keyVault.setSecret('wrong-value', randomUUID());
    const line = await expectFailure(
      SyncErrorCodes.clientSecretRejected,
      { GRAPH_CLIENT_SECRET_NAME: 'wrong-value' },
      /Key Vault secret "wrong-value"/,
      /Value/,
      /not its Secret ID/,
    );
    assert.ok(!line.includes(stack.clientSecret));
  });

  it('unknown client id (AADSTS700016): names GRAPH_CLIENT_ID', async () => {
    await expectFailure(SyncErrorCodes.clientIdUnknown, { GRAPH_CLIENT_ID: randomUUID() }, /GRAPH_CLIENT_ID/);
  });

  it('unknown tenant (AADSTS90002): names GRAPH_TENANT_ID', async () => {
    await expectFailure(SyncErrorCodes.tenantUnknown, { GRAPH_TENANT_ID: randomUUID() }, /GRAPH_TENANT_ID/);
  });

  it('Graph 403: User.Read.All needs admin consent, with the consent URL for this tenant and client', async () => {
    const app = stack.entra.apps.get(stack.clientId.toLowerCase());
    assert.ok(app);
    const roles = app.appRoles[stack.graph.url] ?? [];
    app.appRoles[stack.graph.url] = [];
    try {
      await expectFailure(
        SyncErrorCodes.graphConsentRequired,
        {},
        /User\.Read\.All/,
        /admin consent/,
        new RegExp(`${stack.entra.url.replace(/\./g, '\\.')}/${stack.tenantId}/adminconsent\\?client_id=${stack.clientId}`),
      );
    } finally {
      app.appRoles[stack.graph.url] = roles;
    }
  });

  it('Key Vault 403: the identity lacks Key Vault Secrets User', async () => {
    // Key Vault Certificate User may read secrets too (it includes secrets/getSecret/action): neither role.
    stack.keyVault.secretsUsers.delete(stack.identityPrincipalId);
    stack.keyVault.certificateUsers.delete(stack.identityPrincipalId);
    try {
      await expectFailure(SyncErrorCodes.keyVaultForbidden, {}, /Key Vault Secrets User/);
    } finally {
      stack.keyVault.secretsUsers.add(stack.identityPrincipalId);
      stack.keyVault.certificateUsers.add(stack.identityPrincipalId);
    }
  });

  it('AZURE_CLIENT_ID picks the user-assigned identity: one without the vault role gets 403', async () => {
    const other = { clientId: randomUUID(), principalId: randomUUID() };
    stack.entra.registerIdentity(other);
    await expectFailure(SyncErrorCodes.keyVaultForbidden, { AZURE_CLIENT_ID: other.clientId }, /Key Vault Secrets User/, /AZURE_CLIENT_ID/);
    assert.equal(stack.keyVault.counters.denied > 0, true);
  });

  it('an AZURE_CLIENT_ID that is no identity of the app: Key Vault auth fails, naming the setting', async () => {
    await expectFailure(SyncErrorCodes.keyVaultAuthFailed, { AZURE_CLIENT_ID: randomUUID() }, /AZURE_CLIENT_ID/);
  });

  it('Key Vault 404: the secret name does not exist', async () => {
    await expectFailure(
      SyncErrorCodes.keyVaultSecretNotFound,
      { GRAPH_CLIENT_SECRET_NAME: 'does-not-exist' },
      /no secret named "does-not-exist"/,
      /GRAPH_CLIENT_SECRET_NAME/,
    );
  });

  it('queue unreachable: the storage setting in use and the endpoint tried', async () => {
    const closed = stack.azurite.connectionString.replace(/QueueEndpoint=http:\/\/127\.0\.0\.1:\d+/, 'QueueEndpoint=http://127.0.0.1:1');
    // Storage's own retry is sized by the run's budget: 3 s here, so the dead endpoint fails fast.
    await expectFailure(
      SyncErrorCodes.queueUnreachable,
      { AzureWebJobsStorage: closed, SYNC_RETRY_BUDGET_SECONDS: '3' },
      /setting AzureWebJobsStorage/,
      /http:\/\/127\.0\.0\.1:1\/devstoreaccount1/,
    );
  });

  it('Graph failing mid-run: messages already written stay, and the error says how many', async () => {
    stack.graph.seed(2500);
    stack.faults.arm('graph-400@2'); // the first page is served, the second fails (400 BadRequest)
    const queue = `partial-${randomUUID().slice(0, 8)}`;
    applySettings(stack, { USERS_QUEUE_NAME: queue });
    const { context, logs } = testContext();
    const failing = syncUsersHandler(timer(), context);
    await assert.rejects(failing, (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.graphBadRequest);
    const line = logs.find((l) => l.level === 'error')?.text ?? '';
    assert.match(
      line,
      /had read 200 users in 1 page and written 200 messages in this attempt before it stopped; those stay in the queue, and the checkpoint holds the last page/,
    );
    assert.equal((await drainQueue(stack.azurite.connectionString, queue)).length, 200, 'page 1 of the delta walk (200 users): still in the queue');
    await clearQueue(stack.azurite.connectionString, queue);
  });
});
