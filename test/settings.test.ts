import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SyncErrorCodes } from '../shared/errors';
import { SettingsError, allSettingNames, queueEndpointOf, readSettings } from '../shared/settings';

const valid = {
  GRAPH_TENANT_ID: 'contoso.onmicrosoft.com',
  GRAPH_CLIENT_ID: '6731de76-14a6-49ae-97bc-6eba6914391e',
  KEY_VAULT_URL: 'https://kv-sync.vault.azure.net/',
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
};

function problemsOf(env: Record<string, string | undefined>): readonly string[] {
  try {
    readSettings(env);
  } catch (error) {
    assert.ok(error instanceof SettingsError);
    assert.equal(error.code, SyncErrorCodes.settingsInvalid);
    assert.equal(error.name, 'SettingsError');
    return error.problems;
  }
  assert.fail('expected a SettingsError');
}

describe('readSettings', () => {
  it('applies the documented defaults', () => {
    const s = readSettings(valid);
    assert.equal(s.clientSecretName, 'graph-client-secret');
    assert.equal(s.authorityHost, 'https://login.microsoftonline.com');
    assert.equal(s.graphBaseUrl, 'https://graph.microsoft.com');
    assert.deepEqual(s.userFields, ['id', 'displayName', 'mail', 'userPrincipalName', 'accountEnabled']);
    assert.equal(s.schedule, '0 0 6 * * *');
    assert.equal(s.queueName, 'users');
    assert.equal(s.messageEncoding, 'base64');
    assert.equal(s.sendConcurrency, 32);
    assert.equal(s.keyVaultUrl, 'https://kv-sync.vault.azure.net');
    assert.equal(s.managedIdentityClientId, undefined);
    assert.deepEqual(s.storage, { kind: 'connectionString', connectionString: 'UseDevelopmentStorage=true', queueEndpoint: 'http://127.0.0.1:10001/devstoreaccount1', settingName: 'AzureWebJobsStorage' });
  });

  it('reports every missing required setting in one error, each with an example', () => {
    const problems = problemsOf({});
    assert.equal(problems.length, 4);
    for (const name of ['GRAPH_TENANT_ID', 'GRAPH_CLIENT_ID', 'KEY_VAULT_URL', 'AzureWebJobsStorage']) {
      const line = problems.find((p) => p.startsWith(name));
      assert.ok(line !== undefined, `no problem names ${name}`);
      assert.match(line, /e\.g\./);
    }
  });

  it('names each malformed setting and shows a valid value', () => {
    const problems = problemsOf({
      ...valid,
      GRAPH_TENANT_ID: 'common',
      GRAPH_CLIENT_ID: 'my-app',
      KEY_VAULT_URL: 'http://kv.vault.azure.net/',
      GRAPH_BASE_URL: 'https://graph.microsoft.com/v1.0',
      USER_FIELDS: 'id,display name',
      SYNC_SCHEDULE: '0 6 * * *',
      USERS_QUEUE_NAME: 'Users_Queue',
      USERS_QUEUE_MESSAGE_ENCODING: 'utf8',
      QUEUE_SEND_CONCURRENCY: '0',
      AZURE_CLIENT_ID: 'nope',
    });
    const expect: [string, RegExp][] = [
      ['GRAPH_TENANT_ID', /multi-tenant alias/],
      ['GRAPH_CLIENT_ID', /not a GUID/],
      ['KEY_VAULT_URL', /must use https/],
      ['GRAPH_BASE_URL', /without a path/],
      ['USER_FIELDS', /"display name"/],
      ['SYNC_SCHEDULE', /has 5 fields.*prefix a 0/],
      ['USERS_QUEUE_NAME', /lowercase/],
      ['USERS_QUEUE_MESSAGE_ENCODING', /base64/],
      ['QUEUE_SEND_CONCURRENCY', /1 to 256/],
      ['AZURE_CLIENT_ID', /user-assigned managed identity/],
    ];
    assert.equal(problems.length, expect.length, problems.join('\n'));
    for (const [name, pattern] of expect) {
      const line = problems.find((p) => p.startsWith(`${name} `));
      assert.ok(line !== undefined, `no problem names ${name}`);
      assert.match(line, pattern);
      assert.match(line, new RegExp(`e\\.g\\. ${name}=`));
    }
  });

  it('rejects an invalid cron expression with six fields', () => {
    const [problem] = problemsOf({ ...valid, SYNC_SCHEDULE: '0 0 25 * * *' });
    assert.match(problem ?? '', /^SYNC_SCHEDULE "0 0 25 \* \* \*" is not valid/);
  });

  it('always selects id first and drops duplicates', () => {
    const s = readSettings({ ...valid, USER_FIELDS: ' mail, displayName ,mail,id ' });
    assert.deepEqual(s.userFields, ['id', 'mail', 'displayName']);
  });

  it('never echoes a storage connection string (it may hold a key)', () => {
    const [problem] = problemsOf({ ...valid, AzureWebJobsStorage: 'AccountName=x;NotAKey=SuperSecretValue==' });
    assert.ok(problem !== undefined);
    assert.doesNotMatch(problem, /SuperSecretValue/);
    assert.match(problem, /^AzureWebJobsStorage /);
  });

  it('reads an identity-based storage connection the way the Functions host does', () => {
    const base = { ...valid, AzureWebJobsStorage: undefined };
    assert.deepEqual(readSettings({ ...base, AzureWebJobsStorage__queueServiceUri: 'https://stsync.queue.core.windows.net/', AzureWebJobsStorage__credential: 'managedidentity', AzureWebJobsStorage__clientId: '6731de76-14a6-49ae-97bc-6eba6914391e' }).storage, {
      kind: 'identity',
      queueServiceUri: 'https://stsync.queue.core.windows.net',
      settingName: 'AzureWebJobsStorage__queueServiceUri',
      credential: 'managedidentity',
      clientId: '6731de76-14a6-49ae-97bc-6eba6914391e',
    });
    const byName = readSettings({ ...base, AzureWebJobsStorage__accountName: 'stsync' }).storage;
    assert.equal(byName.kind === 'identity' ? byName.queueServiceUri : '', 'https://stsync.queue.core.windows.net');
    assert.match(problemsOf({ ...base, AzureWebJobsStorage__queueServiceUri: 'https://x.queue.core.windows.net', AzureWebJobsStorage__credential: 'secret' })[0] ?? '', /managedidentity/);
  });

  it('finds the queue endpoint of each connection string form, without the key', () => {
    assert.equal(queueEndpointOf('DefaultEndpointsProtocol=https;AccountName=stsync;AccountKey=abc==;EndpointSuffix=core.usgovcloudapi.net'), 'https://stsync.queue.core.usgovcloudapi.net');
    assert.equal(queueEndpointOf('AccountName=devstoreaccount1;AccountKey=k==;QueueEndpoint=http://127.0.0.1:4321/devstoreaccount1;'), 'http://127.0.0.1:4321/devstoreaccount1');
    assert.equal(queueEndpointOf('AccountName=stsync;EndpointSuffix=core.windows.net'), undefined);
  });

  it('lists every setting it reads', () => {
    for (const name of ['GRAPH_TENANT_ID', 'GRAPH_CLIENT_ID', 'KEY_VAULT_URL', 'GRAPH_CLIENT_SECRET_NAME', 'AUTHORITY_HOST', 'GRAPH_BASE_URL', 'USER_FIELDS', 'SYNC_SCHEDULE', 'USERS_QUEUE_NAME', 'AzureWebJobsStorage', 'AzureWebJobsStorage__queueServiceUri', 'AzureWebJobsStorage__credential', 'AzureWebJobsStorage__clientId']) {
      assert.ok(allSettingNames.includes(name), name);
    }
  });
});
