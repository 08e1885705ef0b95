import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  allSettingNames,
  blobEndpointOf,
  describeScope,
  describeThreshold,
  MicrosoftHosts,
  needsAdvancedQuery,
  parseRemovalLimit,
  queueEndpointOf,
  readSettings,
  removalThreshold,
  scopeKey,
  scrub,
  SettingDefaults,
  SettingNames,
  SettingsError,
  SyncErrorCodes,
  type SyncSettings,
} from '../../../shared/internal';

const valid = {
  GRAPH_TENANT_ID: 'contoso.onmicrosoft.com',
  GRAPH_CLIENT_ID: '6731de76-14a6-49ae-97bc-6eba6914391e',
  KEY_VAULT_URL: 'https://kv-sync.vault.azure.net/',
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
};

function settingsErrorOf(env: Record<string, string | undefined>): SettingsError {
  try {
    readSettings(env);
  } catch (error) {
    assert.ok(error instanceof SettingsError);
    assert.equal(error.code, SyncErrorCodes.settingsInvalid);
    assert.equal(error.name, 'SettingsError');
    return error;
  }
  assert.fail('expected a SettingsError');
}

function problemsOf(env: Record<string, string | undefined>): readonly string[] {
  return settingsErrorOf(env).problems;
}

describe('readSettings', () => {
  it('the error says where the values were read from: the caller names the source', () => {
    assert.throws(
      () => readSettings({ ...valid, GRAPH_CLIENT_ID: 'x' }, { source: 'local.settings.json (--settings)' }),
      (error: unknown) => {
        assert.ok(error instanceof SettingsError);
        assert.equal(error.source, 'local.settings.json (--settings)');
        assert.match(
          error.message,
          /^Invalid settings \(1\), read from local\.settings\.json \(--settings\); fix them there:\n {2}- GRAPH_CLIENT_ID "x" is not a GUID/,
        );
        return true;
      },
    );
    assert.match(settingsErrorOf({ ...valid, GRAPH_CLIENT_ID: 'x' }).message, /^Invalid settings \(1\), read from the environment variables; fix them there:/);
  });

  it('applies the documented defaults', () => {
    const s = readSettings(valid);
    assert.deepEqual(s.credential, { mode: 'secret', keyVaultUrl: 'https://kv-sync.vault.azure.net', secretName: 'graph-client-secret' });
    assert.equal(s.authorityHost, 'https://login.microsoftonline.com');
    assert.equal(s.graphBaseUrl, 'https://graph.microsoft.com');
    assert.deepEqual(s.userFields, ['id', 'displayName', 'mail', 'userPrincipalName', 'accountEnabled']);
    assert.equal(s.schedule, '0 0 6 * * *');
    assert.equal(s.queueName, 'users');
    assert.equal(s.messageEncoding, 'base64');
    assert.equal(s.sendConcurrency, 32);
    assert.equal(s.managedIdentityClientId, undefined);
    assert.equal(s.graphRequestTimeoutMs, 100_000);
    assert.equal(s.retryBudgetMs, 600_000);
    assert.equal(s.stateContainer, 'sync-state');
    assert.equal(s.overflowContainer, 'users-overflow');
    assert.deepEqual(s.allowedHosts, []);
    assert.deepEqual(s.storage, {
      kind: 'connectionString',
      connectionString: 'UseDevelopmentStorage=true',
      queueEndpoint: 'http://127.0.0.1:10001/devstoreaccount1',
      blobEndpoint: 'http://127.0.0.1:10000/devstoreaccount1',
      settingName: 'AzureWebJobsStorage',
    });
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
    assert.deepEqual(
      readSettings({
        ...base,
        AzureWebJobsStorage__queueServiceUri: 'https://stsync.queue.core.windows.net/',
        AzureWebJobsStorage__blobServiceUri: 'https://stsync.blob.core.windows.net/',
        AzureWebJobsStorage__credential: 'managedidentity',
        AzureWebJobsStorage__clientId: '6731de76-14a6-49ae-97bc-6eba6914391e',
      }).storage,
      {
        kind: 'identity',
        queueServiceUri: 'https://stsync.queue.core.windows.net',
        blobServiceUri: 'https://stsync.blob.core.windows.net',
        settingName: 'AzureWebJobsStorage__queueServiceUri',
        credential: 'managedidentity',
        clientId: '6731de76-14a6-49ae-97bc-6eba6914391e',
      },
    );
    assert.deepEqual(readSettings({ ...base, AzureWebJobsStorage__accountName: 'stsync' }).storage, {
      kind: 'identity',
      queueServiceUri: 'https://stsync.queue.core.windows.net',
      blobServiceUri: 'https://stsync.blob.core.windows.net',
      settingName: 'AzureWebJobsStorage__accountName',
      credential: undefined,
      clientId: undefined,
    });
    assert.match(problemsOf({ ...base, AzureWebJobsStorage__accountName: 'stsync', AzureWebJobsStorage__credential: 'secret' })[0] ?? '', /managedidentity/);
  });

  it('derives the blob service URI of an identity connection, or asks for it', () => {
    const base = { ...valid, AzureWebJobsStorage: undefined };
    const blobOf = (env: Record<string, string | undefined>): string => {
      const storage = readSettings({ ...base, ...env }).storage;
      assert.equal(storage.kind, 'identity');
      return storage.kind === 'identity' ? storage.blobServiceUri : '';
    };
    // __accountName fills whichever service URI is not given.
    assert.equal(
      blobOf({ AzureWebJobsStorage__queueServiceUri: 'https://stsync.queue.core.windows.net', AzureWebJobsStorage__accountName: 'stsync' }),
      'https://stsync.blob.core.windows.net',
    );
    assert.equal(
      blobOf({ AzureWebJobsStorage__blobServiceUri: 'https://stsync.blob.core.windows.net/', AzureWebJobsStorage__accountName: 'stsync' }),
      'https://stsync.blob.core.windows.net',
    );
    // __accountName means the public cloud (as for the Functions host): another cloud needs both URIs.
    assert.match(
      problemsOf({
        ...base,
        AzureWebJobsStorage__blobServiceUri: 'https://stsync.blob.core.usgovcloudapi.net',
        AzureWebJobsStorage__accountName: 'stsync',
      })[0] ?? '',
      /^AzureWebJobsStorage__blobServiceUri .* is not in the queue's storage account/,
    );
    // A private endpoint or custom domain: no account check between differently shaped hosts.
    assert.equal(
      blobOf({ AzureWebJobsStorage__queueServiceUri: 'https://queue.contoso.example', AzureWebJobsStorage__blobServiceUri: 'https://blob.contoso.example' }),
      'https://blob.contoso.example',
    );

    const problems = problemsOf({
      ...base,
      AzureWebJobsStorage__queueServiceUri: 'https://stsync.queue.core.windows.net',
      AzureWebJobsStorage__credential: 'managedidentity',
    });
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(problems[0] ?? '', /^AzureWebJobsStorage__blobServiceUri is missing/);
    assert.match(problems[0] ?? '', /e\.g\. AzureWebJobsStorage__blobServiceUri=https:\/\/<account>\.blob\.core\.windows\.net/);
    assert.match(problems[0] ?? '', /for this queue: https:\/\/stsync\.blob\.core\.windows\.net/);

    const other = problemsOf({
      ...base,
      AzureWebJobsStorage__queueServiceUri: 'https://stsync.queue.core.windows.net',
      AzureWebJobsStorage__blobServiceUri: 'https://stother.blob.core.windows.net',
    });
    assert.equal(other.length, 1);
    assert.match(
      other[0] ?? '',
      /^AzureWebJobsStorage__blobServiceUri .*same account, e\.g\. AzureWebJobsStorage__blobServiceUri=https:\/\/stsync\.blob\.core\.windows\.net$/,
    );
  });

  it('finds the queue endpoint of each connection string form, without the key', () => {
    assert.equal(
      queueEndpointOf('DefaultEndpointsProtocol=https;AccountName=stsync;AccountKey=abc==;EndpointSuffix=core.usgovcloudapi.net'),
      'https://stsync.queue.core.usgovcloudapi.net',
    );
    assert.equal(
      queueEndpointOf('AccountName=devstoreaccount1;AccountKey=k==;QueueEndpoint=http://127.0.0.1:4321/devstoreaccount1;'),
      'http://127.0.0.1:4321/devstoreaccount1',
    );
    assert.equal(queueEndpointOf('AccountName=stsync;EndpointSuffix=core.windows.net'), undefined);
    // Storage takes no user info: such an endpoint is refused, not returned (it would be shown in messages).
    assert.equal(queueEndpointOf('AccountKey=k==;QueueEndpoint=https://u:SecretPw@stsync.queue.core.windows.net'), undefined);
  });

  it('finds the blob endpoint of each connection string form, without the key', () => {
    const key = 'SuperSecretKey0123456789==';
    const cases: [string, string | undefined][] = [
      ['UseDevelopmentStorage=true', 'http://127.0.0.1:10000/devstoreaccount1'],
      ['UseDevelopmentStorage=true;DevelopmentStorageProxyUri=http://azurite.local/', 'http://azurite.local:10000/devstoreaccount1'],
      [`DefaultEndpointsProtocol=https;AccountName=stsync;AccountKey=${key};EndpointSuffix=core.windows.net`, 'https://stsync.blob.core.windows.net'],
      [`DefaultEndpointsProtocol=https;AccountName=stsync;AccountKey=${key};EndpointSuffix=core.chinacloudapi.cn`, 'https://stsync.blob.core.chinacloudapi.cn'],
      [`AccountName=stsync;AccountKey=${key}`, 'https://stsync.blob.core.windows.net'],
      [
        `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${key};BlobEndpoint=http://127.0.0.1:4320/devstoreaccount1;QueueEndpoint=http://127.0.0.1:4321/devstoreaccount1;`,
        'http://127.0.0.1:4320/devstoreaccount1',
      ],
      [
        `BlobEndpoint=https://stsync.blob.core.windows.net/;QueueEndpoint=https://stsync.queue.core.windows.net/;SharedAccessSignature=sv=2024-11-04&sig=${key}`,
        'https://stsync.blob.core.windows.net',
      ],
      // An explicit QueueEndpoint with an AccountName: the blob endpoint is derived from the account.
      [
        `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${key};QueueEndpoint=http://127.0.0.1:4321/devstoreaccount1`,
        'http://devstoreaccount1.blob.core.windows.net',
      ],
      [`AccountKey=${key};QueueEndpoint=http://127.0.0.1:4321/devstoreaccount1`, undefined],
      [`AccountKey=${key};QueueEndpoint=http://127.0.0.1:4321/x;BlobEndpoint=not a url`, undefined],
      [`AccountKey=${key};BlobEndpoint=https://u:SecretPw@stsync.blob.core.windows.net`, undefined],
      ['AccountName=stsync;EndpointSuffix=core.windows.net', undefined],
      ['', undefined],
    ];
    for (const [connectionString, expected] of cases) {
      const blob = blobEndpointOf(connectionString);
      assert.equal(blob, expected, connectionString);
      assert.doesNotMatch(blob ?? '', /SuperSecretKey|SecretPw/);
    }
  });

  it('gives a connection string its blob endpoint, or says a BlobEndpoint is needed for the run state', () => {
    const key = 'SuperSecretKey0123456789==';
    const withBlob = readSettings({
      ...valid,
      AzureWebJobsStorage: `AccountName=devstoreaccount1;AccountKey=${key};QueueEndpoint=http://127.0.0.1:4321/devstoreaccount1;BlobEndpoint=http://127.0.0.1:4320/devstoreaccount1`,
    }).storage;
    assert.equal(withBlob.kind === 'connectionString' ? withBlob.blobEndpoint : '', 'http://127.0.0.1:4320/devstoreaccount1');
    const problems = problemsOf({ ...valid, AzureWebJobsStorage: `AccountKey=${key};QueueEndpoint=http://127.0.0.1:4321/devstoreaccount1` });
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /^AzureWebJobsStorage has a QueueEndpoint but no BlobEndpoint .*BlobEndpoint is needed for the run state/);
    assert.doesNotMatch(problems[0] ?? '', /SuperSecretKey/);
  });

  it('lists every setting it reads', () => {
    for (const name of [
      'GRAPH_TENANT_ID',
      'GRAPH_CLIENT_ID',
      'KEY_VAULT_URL',
      'GRAPH_CLIENT_SECRET_NAME',
      'AUTHORITY_HOST',
      'GRAPH_BASE_URL',
      'USER_FIELDS',
      'SYNC_SCHEDULE',
      'USERS_QUEUE_NAME',
      'GRAPH_REQUEST_TIMEOUT_SECONDS',
      'SYNC_RETRY_BUDGET_SECONDS',
      'SYNC_STATE_CONTAINER',
      'USERS_OVERFLOW_CONTAINER',
      'SYNC_ALLOWED_HOSTS',
      'AzureWebJobsStorage',
      'AzureWebJobsStorage__queueServiceUri',
      'AzureWebJobsStorage__blobServiceUri',
      'AzureWebJobsStorage__credential',
      'AzureWebJobsStorage__clientId',
    ]) {
      assert.ok(allSettingNames.includes(name), name);
    }
    assert.equal(SettingNames.storageBlobServiceUri, 'AzureWebJobsStorage__blobServiceUri');
    assert.equal(new Set(allSettingNames).size, allSettingNames.length);
    assert.deepEqual(
      [
        SettingDefaults.graphRequestTimeoutSeconds,
        SettingDefaults.retryBudgetSeconds,
        SettingDefaults.stateContainer,
        SettingDefaults.overflowContainer,
        SettingDefaults.allowedHosts,
      ],
      [100, 600, 'sync-state', 'users-overflow', ''],
    );
  });
});

describe('readSettings: new settings', () => {
  it('refuses a connection string and an identity-based storage connection set together, saying which would win and how to keep the other', () => {
    for (const extra of [
      { AzureWebJobsStorage__queueServiceUri: 'https://stsync.queue.core.windows.net' },
      { AzureWebJobsStorage__accountName: 'stsync', AzureWebJobsStorage__credential: 'managedidentity' },
    ]) {
      const problems = problemsOf({ ...valid, AzureWebJobsStorage: 'UseDevelopmentStorage=true', ...extra });
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(
        problems[0] ?? '',
        /^AzureWebJobsStorage \(a connection string\) and AzureWebJobsStorage__\w+.* are both set; the connection string would win/,
      );
      assert.match(problems[0] ?? '', /remove AzureWebJobsStorage to use the identity-based connection/);
    }
    // Blank identity settings, as local.settings.json.example has them, are not set.
    assert.equal(
      readSettings({
        ...valid,
        AzureWebJobsStorage: 'UseDevelopmentStorage=true',
        AzureWebJobsStorage__queueServiceUri: '',
        AzureWebJobsStorage__credential: ' ',
      }).storage.kind,
      'connectionString',
    );
  });

  it('reads the Graph request timeout and the retry budget in seconds, as milliseconds', () => {
    const s = readSettings({ ...valid, GRAPH_REQUEST_TIMEOUT_SECONDS: ' 30 ', SYNC_RETRY_BUDGET_SECONDS: '86400' });
    assert.equal(s.graphRequestTimeoutMs, 30_000);
    assert.equal(s.retryBudgetMs, 86_400_000);
    const bounds = readSettings({ ...valid, GRAPH_REQUEST_TIMEOUT_SECONDS: '600', SYNC_RETRY_BUDGET_SECONDS: '1' });
    assert.equal(bounds.graphRequestTimeoutMs, 600_000);
    assert.equal(bounds.retryBudgetMs, 1_000);
    assert.match(
      problemsOf({ ...valid, GRAPH_REQUEST_TIMEOUT_SECONDS: '601' })[0] ?? '',
      /^GRAPH_REQUEST_TIMEOUT_SECONDS "601" must be a whole number of seconds from 1 to 600, e\.g\. GRAPH_REQUEST_TIMEOUT_SECONDS=100$/,
    );
    assert.match(
      problemsOf({ ...valid, SYNC_RETRY_BUDGET_SECONDS: '0' })[0] ?? '',
      /^SYNC_RETRY_BUDGET_SECONDS "0" must be a whole number of seconds from 1 to 86400, e\.g\. SYNC_RETRY_BUDGET_SECONDS=600$/,
    );
  });

  it('reads the state and overflow containers', () => {
    const s = readSettings({ ...valid, SYNC_STATE_CONTAINER: 'run-state-2', USERS_OVERFLOW_CONTAINER: 'big-users' });
    assert.equal(s.stateContainer, 'run-state-2');
    assert.equal(s.overflowContainer, 'big-users');
    // The queue and a container may share a name: they are different services.
    assert.equal(readSettings({ ...valid, USERS_QUEUE_NAME: 'users', USERS_OVERFLOW_CONTAINER: 'users' }).overflowContainer, 'users');
    assert.match(
      problemsOf({ ...valid, SYNC_STATE_CONTAINER: 'Sync-State' })[0] ?? '',
      /^SYNC_STATE_CONTAINER "Sync-State" is not a valid blob container name \(it has uppercase letters\).*e\.g\. SYNC_STATE_CONTAINER=sync-state$/,
    );
    assert.match(
      problemsOf({ ...valid, USERS_OVERFLOW_CONTAINER: 'sync-state' })[0] ?? '',
      /^USERS_OVERFLOW_CONTAINER "sync-state" is the container SYNC_STATE_CONTAINER already uses/,
    );
  });

  it('reads SYNC_ALLOWED_HOSTS as lowercase hostnames, without duplicates', () => {
    const s = readSettings({ ...valid, SYNC_ALLOWED_HOSTS: ' Login.Example.org , graph.example.org,login.example.org,,10.0.0.5,[fd00::1]' });
    assert.deepEqual(s.allowedHosts, ['login.example.org', 'graph.example.org', '10.0.0.5', '[fd00::1]']);
    const [problem] = problemsOf({ ...valid, SYNC_ALLOWED_HOSTS: 'login.example.org,*.example.org,https://graph.example.org' });
    assert.match(
      problem ?? '',
      /^SYNC_ALLOWED_HOSTS .*\("\*\.example\.org", "https:\/\/graph\.example\.org"\); wildcards are not supported.*without https:\/\/, port or path, e\.g\. SYNC_ALLOWED_HOSTS=/,
    );
  });

  it('treats an empty or blank optional setting as unset', () => {
    const expected = readSettings(valid);
    for (const name of [
      'GRAPH_CLIENT_SECRET_NAME',
      'AUTHORITY_HOST',
      'GRAPH_BASE_URL',
      'USER_FIELDS',
      'SYNC_SCHEDULE',
      'USERS_QUEUE_NAME',
      'USERS_QUEUE_MESSAGE_ENCODING',
      'QUEUE_SEND_CONCURRENCY',
      'AZURE_CLIENT_ID',
      'GRAPH_REQUEST_TIMEOUT_SECONDS',
      'SYNC_RETRY_BUDGET_SECONDS',
      'SYNC_STATE_CONTAINER',
      'USERS_OVERFLOW_CONTAINER',
      'SYNC_ALLOWED_HOSTS',
      'AzureWebJobsStorage__blobServiceUri',
    ]) {
      for (const blank of ['', '   ', '\t\r\n']) assert.deepEqual(readSettings({ ...valid, [name]: blank }), expected, `${name}=${JSON.stringify(blank)}`);
    }
  });
});

describe('readSettings: hosts that receive secrets', () => {
  const vaultOf = (s: SyncSettings): string | undefined => ('keyVaultUrl' in s.credential ? s.credential.keyVaultUrl : undefined);

  it("accepts every Microsoft cloud's hosts", () => {
    for (const host of MicrosoftHosts.authority) assert.equal(readSettings({ ...valid, AUTHORITY_HOST: `https://${host}` }).authorityHost, `https://${host}`);
    for (const host of MicrosoftHosts.graph) assert.equal(readSettings({ ...valid, GRAPH_BASE_URL: `https://${host}/` }).graphBaseUrl, `https://${host}`);
    for (const suffix of MicrosoftHosts.keyVaultSuffixes)
      assert.deepEqual(readSettings({ ...valid, KEY_VAULT_URL: `https://kv-sync-01.${suffix}/` }).credential, {
        mode: 'secret',
        keyVaultUrl: `https://kv-sync-01.${suffix}`,
        secretName: 'graph-client-secret',
      });
    // Hostnames are case-insensitive; URL lowercases them.
    assert.equal(readSettings({ ...valid, AUTHORITY_HOST: 'https://LOGIN.MicrosoftOnline.US' }).authorityHost, 'https://login.microsoftonline.us');
  });

  it('accepts loopback for all three (the local stand-ins)', () => {
    for (const origin of ['https://127.0.0.1:8443', 'https://127.5.6.7', 'https://localhost:4443', 'https://[::1]:9443']) {
      const s = readSettings({ ...valid, AUTHORITY_HOST: origin, GRAPH_BASE_URL: origin, KEY_VAULT_URL: `${origin}/` });
      assert.deepEqual([s.authorityHost, s.graphBaseUrl, vaultOf(s)], [origin, origin, origin]);
    }
  });

  it('refuses any other host, naming the setting, the host and SYNC_ALLOWED_HOSTS', () => {
    const cases: ['AUTHORITY_HOST' | 'GRAPH_BASE_URL' | 'KEY_VAULT_URL', string, string][] = [
      ['AUTHORITY_HOST', 'https://login.example.org', 'login.example.org'],
      ['AUTHORITY_HOST', 'https://login.microsoftonline.com.evil.example', 'login.microsoftonline.com.evil.example'],
      ['AUTHORITY_HOST', 'https://10.0.0.5', '10.0.0.5'],
      ['GRAPH_BASE_URL', 'https://graph.example.org', 'graph.example.org'],
      ['GRAPH_BASE_URL', 'https://graph.microsoft.de', 'graph.microsoft.de'],
      ['KEY_VAULT_URL', 'https://kv.example.org/', 'kv.example.org'],
      ['KEY_VAULT_URL', 'https://evilvault.azure.net', 'evilvault.azure.net'],
      ['KEY_VAULT_URL', 'https://kv.vault.azure.net.evil.example', 'kv.vault.azure.net.evil.example'],
      ['KEY_VAULT_URL', 'https://hsm-sync.managedhsm.azure.net', 'hsm-sync.managedhsm.azure.net'],
    ];
    for (const [name, value, host] of cases) {
      const problems = problemsOf({ ...valid, [name]: value });
      assert.equal(problems.length, 1, problems.join('\n'));
      const [problem = ''] = problems;
      assert.ok(problem.startsWith(`${name} `), problem);
      assert.ok(problem.includes(`${host} is not`), problem);
      assert.ok(problem.includes(`SYNC_ALLOWED_HOSTS=${host}`), problem);
      assert.match(problem, new RegExp(`e\\.g\\. ${name}=https://`));
    }
    assert.match(problemsOf({ ...valid, KEY_VAULT_URL: 'https://hsm-sync.managedhsm.azure.net' })[0] ?? '', /Managed HSM holds keys, not secrets/);
  });

  it('allows a host listed in SYNC_ALLOWED_HOSTS, exactly', () => {
    const s = readSettings({
      ...valid,
      SYNC_ALLOWED_HOSTS: 'login.example.org,GRAPH.example.org,kv.example.org',
      AUTHORITY_HOST: 'https://login.example.org:8443',
      GRAPH_BASE_URL: 'https://graph.example.org',
      KEY_VAULT_URL: 'https://kv.example.org/',
    });
    assert.deepEqual([s.authorityHost, s.graphBaseUrl, vaultOf(s)], ['https://login.example.org:8443', 'https://graph.example.org', 'https://kv.example.org']);
    // Exact match: neither a parent domain nor a sibling is enough.
    const problems = problemsOf({
      ...valid,
      SYNC_ALLOWED_HOSTS: 'example.org,login.example.org',
      AUTHORITY_HOST: 'https://sts.example.org',
      GRAPH_BASE_URL: 'https://x.login.example.org',
    });
    assert.deepEqual(
      problems.map((p) => p.split(' ')[0]),
      ['AUTHORITY_HOST', 'GRAPH_BASE_URL'],
    );
  });

  it('refuses a URL with a user name or password without showing the password', () => {
    for (const [name, value] of [
      ['KEY_VAULT_URL', 'https://user:hunter2pw@kv-sync.vault.azure.net/'],
      ['AUTHORITY_HOST', 'https://admin:hunter2pw@login.microsoftonline.com'],
      ['GRAPH_BASE_URL', 'https://:hunter2pw@graph.microsoft.com'],
      ['AzureWebJobsStorage__blobServiceUri', 'https://st:hunter2pw@stsync.blob.core.windows.net'],
    ] as const) {
      const env = name.startsWith('AzureWebJobsStorage')
        ? { ...valid, AzureWebJobsStorage: undefined, AzureWebJobsStorage__queueServiceUri: 'https://stsync.queue.core.windows.net', [name]: value }
        : { ...valid, [name]: value };
      const error = settingsErrorOf(env);
      assert.equal(error.problems.length, 1, error.problems.join('\n'));
      assert.match(error.problems[0] ?? '', new RegExp(`^${name} "https://[a-z.-]+/?" carries a user name or password \\(left out here\\)`));
      assert.doesNotMatch(error.message, /hunter2pw/);
    }
    // Not even when the rest of the URL does not parse.
    const [broken = ''] = problemsOf({ ...valid, KEY_VAULT_URL: 'https://user:hunter2pw@kv sync.vault.azure.net' });
    assert.match(broken, /^KEY_VAULT_URL "https:\/\/\*\*\*@kv sync\.vault\.azure\.net" is not a URL/);
  });
});

describe('readSettings: schedule and fields', () => {
  it('refuses a schedule that never fires', () => {
    const problems = problemsOf({ ...valid, SYNC_SCHEDULE: '0 0 6 31 2 *' });
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /^SYNC_SCHEDULE "0 0 6 31 2 \*" never fires .*e\.g\. SYNC_SCHEDULE=0 0 6 \* \* \*$/);
    // 29 February does come round.
    assert.equal(readSettings({ ...valid, SYNC_SCHEDULE: '0 0 6 29 2 *' }).schedule, '0 0 6 29 2 *');
    assert.equal(readSettings({ ...valid, SYNC_SCHEDULE: '0 */5 8-18 * Jan-Mar mon-fri' }).schedule, '0 */5 8-18 * Jan-Mar mon-fri');
    // What the Functions host accepts besides (test/ncrontab/corpus.json has the rest): an interval, name prefixes, a reversed range.
    for (const schedule of ['01:00:00', '1.00:00:00', '0 0 6 * Ju *', '0 0 6-4 * * *'])
      assert.equal(readSettings({ ...valid, SYNC_SCHEDULE: schedule }).schedule, schedule);
  });

  it('refuses Graph property names that differ only in case, drops exact duplicates', () => {
    const [problem = ''] = problemsOf({ ...valid, USER_FIELDS: 'mail,displayName,Mail' });
    assert.match(
      problem,
      /^USER_FIELDS "mail,displayName,Mail" names the same property more than once in different case \("mail" and "Mail"\); Graph property names are case-insensitive/,
    );
    assert.match(problemsOf({ ...valid, USER_FIELDS: 'id,ID' })[0] ?? '', /"id" and "ID"/);
    assert.deepEqual(readSettings({ ...valid, USER_FIELDS: 'Id,mail,mail' }).userFields, ['id', 'mail']);
  });
});

describe('readSettings fuzz: one clear problem per bad setting', () => {
  const guid = '6731de76-14a6-49ae-97bc-6eba6914391e';
  const key = 'SuperSecretKey0123456789==';
  const identity = { AzureWebJobsStorage: undefined, AzureWebJobsStorage__credential: 'managedidentity' };
  const queueUri = 'https://stsync.queue.core.windows.net';
  const blobUri = 'https://stsync.blob.core.windows.net';
  /** [setting the problem must name, env changes, what the problem says, a secret it must not show] */
  const cases: [string, Record<string, string | undefined>, RegExp, string?][] = [
    ['GRAPH_TENANT_ID', { GRAPH_TENANT_ID: '' }, /is missing/],
    ['GRAPH_TENANT_ID', { GRAPH_TENANT_ID: '   ' }, /is missing/],
    ['GRAPH_TENANT_ID', { GRAPH_TENANT_ID: '\t\n' }, /is missing/],
    ['GRAPH_TENANT_ID', { GRAPH_TENANT_ID: '1234' }, /neither a GUID nor a domain/],
    ['GRAPH_TENANT_ID', { GRAPH_TENANT_ID: `{${guid}}` }, /remove the braces/],
    ['GRAPH_TENANT_ID', { GRAPH_TENANT_ID: `${guid}-junk` }, /extra characters after the GUID/],
    ['GRAPH_TENANT_ID', { GRAPH_TENANT_ID: 'organizations' }, /multi-tenant alias/],
    ['GRAPH_TENANT_ID', { GRAPH_TENANT_ID: '00000000-0000-0000-0000-000000000000' }, /placeholder/],
    ['GRAPH_TENANT_ID', { GRAPH_TENANT_ID: 'https://login.microsoftonline.com/contoso.onmicrosoft.com' }, /neither a GUID nor a domain/],
    ['GRAPH_CLIENT_ID', { GRAPH_CLIENT_ID: ' ' }, /is missing/],
    ['GRAPH_CLIENT_ID', { GRAPH_CLIENT_ID: '1234' }, /not a GUID/],
    ['GRAPH_CLIENT_ID', { GRAPH_CLIENT_ID: `{${guid}}` }, /remove the braces/],
    ['GRAPH_CLIENT_ID', { GRAPH_CLIENT_ID: `${guid}x` }, /extra characters after the GUID/],
    ['GRAPH_CLIENT_ID', { GRAPH_CLIENT_ID: '00000000-0000-0000-0000-000000000000' }, /placeholder/],
    ['GRAPH_CLIENT_ID', { GRAPH_CLIENT_ID: 'a\n    at Object.<anonymous> (x.js:1:1)' }, /not a GUID/],
    ['AZURE_CLIENT_ID', { AZURE_CLIENT_ID: '1234' }, /user-assigned managed identity/],
    ['AZURE_CLIENT_ID', { AZURE_CLIENT_ID: `{${guid}}` }, /remove the braces/],
    ['KEY_VAULT_URL', { KEY_VAULT_URL: '' }, /is missing/],
    ['KEY_VAULT_URL', { KEY_VAULT_URL: 'http://kv.vault.azure.net/' }, /must use https/],
    ['KEY_VAULT_URL', { KEY_VAULT_URL: 'kv.vault.azure.net' }, /not a URL \(it needs https:\/\/ in front\)/],
    ['KEY_VAULT_URL', { KEY_VAULT_URL: 'https://kv.vault.azure.net/secrets/graph-client-secret' }, /without a path/],
    ['KEY_VAULT_URL', { KEY_VAULT_URL: 'https://kv.example.org' }, /not a Key Vault host/],
    ['KEY_VAULT_URL', { KEY_VAULT_URL: 'https://u:SecretPw1@kv.vault.azure.net' }, /carries a user name or password/, 'SecretPw1'],
    ['AUTHORITY_HOST', { AUTHORITY_HOST: 'https://login.example.org' }, /client secret would be posted to it/],
    ['AUTHORITY_HOST', { AUTHORITY_HOST: 'http://login.microsoftonline.com' }, /must use https/],
    ['AUTHORITY_HOST', { AUTHORITY_HOST: 'https://login.microsoftonline.com/common' }, /without a path/],
    ['AUTHORITY_HOST', { AUTHORITY_HOST: 'not a url' }, /not a URL/],
    ['GRAPH_BASE_URL', { GRAPH_BASE_URL: 'https://graph.example.org' }, /Graph token would be sent to it/],
    ['GRAPH_BASE_URL', { GRAPH_BASE_URL: 'https://graph.microsoft.com/v1.0' }, /without a path/],
    ['GRAPH_CLIENT_SECRET_NAME', { GRAPH_CLIENT_SECRET_NAME: 'graph_client_secret' }, /not a Key Vault secret name/],
    ['USER_FIELDS', { USER_FIELDS: 'id,$select' }, /not valid: "\$select"/],
    ['USER_FIELDS', { USER_FIELDS: 'id,mail&x' }, /not valid: "mail&x"/],
    ['USER_FIELDS', { USER_FIELDS: 'id,mail=x' }, /not valid: "mail=x"/],
    ['USER_FIELDS', { USER_FIELDS: 'id,display Name' }, /not valid: "display Name"/],
    ['USER_FIELDS', { USER_FIELDS: 'mail,Mail' }, /different case/],
    ['USER_FIELDS', { USER_FIELDS: ' , ,' }, /comma-separated list/],
    ['SYNC_SCHEDULE', { SYNC_SCHEDULE: '0 6 * * *' }, /has 5 fields.*prefix a 0/],
    ['SYNC_SCHEDULE', { SYNC_SCHEDULE: '0 0 6 * * * 2030' }, /has 7 fields.*no year field/],
    ['SYNC_SCHEDULE', { SYNC_SCHEDULE: '0 0 25 * * *' }, /is not valid/],
    ['SYNC_SCHEDULE', { SYNC_SCHEDULE: '0 0 6 31 2 *' }, /never fires/],
    ['SYNC_SCHEDULE', { SYNC_SCHEDULE: '0 0 6 L * *' }, /NCRONTAB does not understand/],
    ['SYNC_SCHEDULE', { SYNC_SCHEDULE: '0 0 6 ? * MON#1' }, /NCRONTAB does not understand/],
    ['SYNC_SCHEDULE', { SYNC_SCHEDULE: '0 0 6 * * 7' }, /"7" in the day-of-week field: 7 is outside 0-6 \(Sunday is 0\)/],
    ['SYNC_SCHEDULE', { SYNC_SCHEDULE: '0 0 6 * Janx *' }, /"Janx" in the month field: neither a number nor the start of a month name/],
    ['SYNC_SCHEDULE', { SYNC_SCHEDULE: '0\t0\t6\t*\t*\t*' }, /the host does not split on tabs/],
    ['SYNC_SCHEDULE', { SYNC_SCHEDULE: '00:00:00' }, /interval of zero, which never fires/],
    ['USERS_QUEUE_NAME', { USERS_QUEUE_NAME: 'Users' }, /uppercase/],
    ['USERS_QUEUE_NAME', { USERS_QUEUE_NAME: 'sync--users' }, /two dashes in a row/],
    ['USERS_QUEUE_NAME', { USERS_QUEUE_NAME: 'ab' }, /too short/],
    ['USERS_QUEUE_NAME', { USERS_QUEUE_NAME: 'a'.repeat(64) }, /too long/],
    ['USERS_QUEUE_NAME', { USERS_QUEUE_NAME: '-users' }, /starts or ends with a dash/],
    ['USERS_QUEUE_NAME', { USERS_QUEUE_NAME: 'users_q' }, /characters other than/],
    ['SYNC_STATE_CONTAINER', { SYNC_STATE_CONTAINER: 'SyncState' }, /uppercase/],
    ['SYNC_STATE_CONTAINER', { SYNC_STATE_CONTAINER: 'sync--state' }, /two dashes in a row/],
    ['SYNC_STATE_CONTAINER', { SYNC_STATE_CONTAINER: 'st' }, /too short/],
    ['SYNC_STATE_CONTAINER', { SYNC_STATE_CONTAINER: 's'.repeat(64) }, /too long/],
    ['SYNC_STATE_CONTAINER', { SYNC_STATE_CONTAINER: '-sync-state' }, /starts or ends with a dash/],
    ['SYNC_STATE_CONTAINER', { SYNC_STATE_CONTAINER: '$root' }, /characters other than/],
    ['SYNC_STATE_CONTAINER', { SYNC_STATE_CONTAINER: 'azure-webjobs-hosts' }, /Functions host itself/],
    ['USERS_OVERFLOW_CONTAINER', { USERS_OVERFLOW_CONTAINER: 'Users-Overflow' }, /uppercase/],
    ['USERS_OVERFLOW_CONTAINER', { USERS_OVERFLOW_CONTAINER: 'users-' }, /starts or ends with a dash/],
    ['USERS_OVERFLOW_CONTAINER', { USERS_OVERFLOW_CONTAINER: 'x' }, /too short/],
    ['USERS_OVERFLOW_CONTAINER', { SYNC_STATE_CONTAINER: 'users-overflow' }, /already uses/],
    ['USERS_QUEUE_MESSAGE_ENCODING', { USERS_QUEUE_MESSAGE_ENCODING: 'utf8' }, /base64/],
    ['QUEUE_SEND_CONCURRENCY', { QUEUE_SEND_CONCURRENCY: '1e2' }, /1 to 256/],
    ['QUEUE_SEND_CONCURRENCY', { QUEUE_SEND_CONCURRENCY: '-1' }, /1 to 256/],
    ['GRAPH_REQUEST_TIMEOUT_SECONDS', { GRAPH_REQUEST_TIMEOUT_SECONDS: '0' }, /whole number of seconds from 1 to 600/],
    ['GRAPH_REQUEST_TIMEOUT_SECONDS', { GRAPH_REQUEST_TIMEOUT_SECONDS: '100s' }, /whole number of seconds/],
    ['GRAPH_REQUEST_TIMEOUT_SECONDS', { GRAPH_REQUEST_TIMEOUT_SECONDS: '1.5' }, /whole number of seconds/],
    ['GRAPH_REQUEST_TIMEOUT_SECONDS', { GRAPH_REQUEST_TIMEOUT_SECONDS: '601' }, /from 1 to 600/],
    ['SYNC_RETRY_BUDGET_SECONDS', { SYNC_RETRY_BUDGET_SECONDS: '86401' }, /from 1 to 86400/],
    ['SYNC_RETRY_BUDGET_SECONDS', { SYNC_RETRY_BUDGET_SECONDS: '10m' }, /whole number of seconds/],
    ['SYNC_ALLOWED_HOSTS', { SYNC_ALLOWED_HOSTS: '*.example.org' }, /wildcards are not supported/],
    ['SYNC_ALLOWED_HOSTS', { SYNC_ALLOWED_HOSTS: 'login.example.org:8443' }, /hostname only/],
    ['SYNC_ALLOWED_HOSTS', { SYNC_ALLOWED_HOSTS: 'bad_host,-x.example,a..b' }, /"bad_host", "-x\.example", "a\.\.b"/],
    ['AzureWebJobsStorage', { AzureWebJobsStorage: 'AccountName=x;NotAKey=SuperSecretValue==' }, /queue endpoint/, 'SuperSecretValue'],
    [
      'AzureWebJobsStorage',
      { AzureWebJobsStorage: `AccountKey=${key};QueueEndpoint=http://127.0.0.1:1/devstoreaccount1` },
      /BlobEndpoint is needed for the run state/,
      key,
    ],
    [
      'AzureWebJobsStorage',
      { AzureWebJobsStorage: `AccountKey=${key};QueueEndpoint=http://127.0.0.1:1/x;BlobEndpoint=not a url` },
      /BlobEndpoint that is not a usable URL/,
      key,
    ],
    [
      'AzureWebJobsStorage',
      { AzureWebJobsStorage: `AccountName=stsync;AccountKey=${key};QueueEndpoint=https://u:SecretPw2@stsync.queue.core.windows.net` },
      /queue endpoint/,
      'SecretPw2',
    ],
    ['AzureWebJobsStorage', { AzureWebJobsStorage: `SharedAccessSignature=sv=2024-11-04&sig=${key}` }, /queue endpoint/, key],
    ['AzureWebJobsStorage', { AzureWebJobsStorage: ' ' }, /is missing/],
    ['AzureWebJobsStorage__blobServiceUri', { ...identity, AzureWebJobsStorage__queueServiceUri: queueUri }, /is missing/],
    [
      'AzureWebJobsStorage__blobServiceUri',
      { ...identity, AzureWebJobsStorage__queueServiceUri: queueUri, AzureWebJobsStorage__blobServiceUri: 'https://other.blob.core.windows.net' },
      /same account/,
    ],
    [
      'AzureWebJobsStorage__blobServiceUri',
      { ...identity, AzureWebJobsStorage__queueServiceUri: queueUri, AzureWebJobsStorage__blobServiceUri: 'http://stsync.blob.core.windows.net' },
      /must use https/,
    ],
    ['AzureWebJobsStorage__queueServiceUri', { ...identity, AzureWebJobsStorage__blobServiceUri: blobUri }, /is missing/],
    [
      'AzureWebJobsStorage__queueServiceUri',
      { ...identity, AzureWebJobsStorage__queueServiceUri: `${queueUri}/users`, AzureWebJobsStorage__blobServiceUri: blobUri },
      /without a path/,
    ],
    ['AzureWebJobsStorage__accountName', { ...identity, AzureWebJobsStorage__accountName: 'St_Sync' }, /not a storage account name/],
    [
      'AzureWebJobsStorage__credential',
      { ...identity, AzureWebJobsStorage__accountName: 'stsync', AzureWebJobsStorage__credential: 'clientsecret' },
      /only value is managedidentity/,
    ],
    ['AzureWebJobsStorage__clientId', { ...identity, AzureWebJobsStorage__accountName: 'stsync', AzureWebJobsStorage__clientId: '1234' }, /not a GUID/],
  ];

  for (const [name, changes, says, secret] of cases) {
    // Titles are printed by the reporter (and scanned for leaks): a key in a value never reaches them.
    it(`${name} = ${scrub(
      JSON.stringify(
        Object.values(changes)
          .filter((v) => v !== undefined && v !== 'managedidentity')
          .join(' | '),
      ),
    ).slice(0, 90)}`, () => {
      const error = settingsErrorOf({ ...valid, ...changes });
      assert.equal(error.problems.length, 1, error.problems.join('\n'));
      const [problem = ''] = error.problems;
      assert.ok(problem.startsWith(`${name} `), problem);
      assert.match(problem, says);
      assert.match(problem, /e\.g\. /, 'shows a valid example');
      assert.doesNotMatch(problem, /\n/);
      assert.doesNotMatch(error.message, /\n\s+at /);
      if (secret !== undefined) assert.ok(!error.message.includes(secret), `shows the secret: ${error.message}`);
    });
  }

  it('reports problems of several settings together, one each', () => {
    const problems = problemsOf({
      ...valid,
      GRAPH_TENANT_ID: '{x}',
      AUTHORITY_HOST: 'https://login.example.org',
      SYNC_SCHEDULE: '0 0 6 31 2 *',
      USER_FIELDS: 'mail,Mail',
      SYNC_STATE_CONTAINER: 'State',
      GRAPH_REQUEST_TIMEOUT_SECONDS: '0',
      SYNC_RETRY_BUDGET_SECONDS: 'x',
      SYNC_ALLOWED_HOSTS: '*',
      AzureWebJobsStorage: `AccountKey=${key};QueueEndpoint=http://127.0.0.1:1/x`,
    });
    assert.deepEqual(problems.map((p) => p.split(' ')[0]).sort(), [
      'AUTHORITY_HOST',
      'AzureWebJobsStorage',
      'GRAPH_REQUEST_TIMEOUT_SECONDS',
      'GRAPH_TENANT_ID',
      'SYNC_ALLOWED_HOSTS',
      'SYNC_RETRY_BUDGET_SECONDS',
      'SYNC_SCHEDULE',
      'SYNC_STATE_CONTAINER',
      'USER_FIELDS',
    ]);
  });
});

describe('settings: SYNC_MODE and the mass-deletion guard', () => {
  it('parses SYNC_MAX_REMOVALS as a count, a percentage, or both in either order', () => {
    const cases: [string, { count: number | undefined; percent: number | undefined }][] = [
      ['500', { count: 500, percent: undefined }],
      ['0', { count: 0, percent: undefined }],
      ['5%', { count: undefined, percent: 5 }],
      ['500,5%', { count: 500, percent: 5 }],
      ['5%,500', { count: 500, percent: 5 }],
      [' 500 , 5 % ', { count: 500, percent: 5 }],
      ['0.5%', { count: undefined, percent: 0.5 }],
      ['100%', { count: undefined, percent: 100 }],
    ];
    for (const [text, expected] of cases) assert.deepEqual(parseRemovalLimit(text), expected, text);
  });

  it('refuses a SYNC_MAX_REMOVALS that is not a count and/or one percentage in (0, 100]', () => {
    for (const text of ['', ' ', 'abc', '5%,6%', '500,600', '0%', '101%', '100.5%', '-1', '-5%', '5%%', '1e3', '500;5%', '500,', '0.125%']) {
      assert.equal(parseRemovalLimit(text), undefined, JSON.stringify(text));
    }
  });

  it('takes the lesser of the count and the percentage of the known users', () => {
    const both = { count: 500, percent: 5 };
    assert.equal(removalThreshold(both, 2500), 125);
    assert.equal(removalThreshold(both, 20_000), 500);
    assert.equal(removalThreshold(both, 0), 0);
    // Rounded down: 5% of 2,519 is 125.95.
    assert.equal(removalThreshold(both, 2519), 125);
    assert.equal(removalThreshold({ count: undefined, percent: 5 }, 2500), 125);
    assert.equal(removalThreshold({ count: undefined, percent: 0.5 }, 999), 4);
    assert.equal(removalThreshold({ count: 40, percent: undefined }, 2500), 40);
  });

  it('without known users, a percentage gives way to the count, or to 500', () => {
    assert.equal(removalThreshold({ count: 300, percent: 5 }, null), 300);
    assert.equal(removalThreshold({ count: undefined, percent: 5 }, null), 500);
    assert.equal(removalThreshold({ count: 40, percent: undefined }, null), 40);
  });

  // Up to two decimals are accepted, and the percentage of the known users must come out exact:
  // 0.57% of 10,000 users is 57. Floating point makes 0.57 * 10000 = 5699.999999999999, floored to 56.
  it('computes a decimal percentage of the known users exactly', () => {
    const cases: [string, number, number][] = [
      ['0.57%', 10_000, 57],
      ['1.13%', 10_000, 113],
      ['2.01%', 10_000, 201],
      ['2.28%', 2500, 57],
    ];
    for (const [text, knownUsers, expected] of cases) {
      const limit = parseRemovalLimit(text);
      assert.ok(limit !== undefined, text);
      assert.equal(removalThreshold(limit, knownUsers), expected, `${text} of ${knownUsers}`);
    }
  });

  it('describes a threshold with the numbers it came from', () => {
    const both = describeThreshold({ count: 500, percent: 5 }, 2500);
    assert.match(both, /^125 \(SYNC_MAX_REMOVALS: /);
    assert.ok(both.includes('5%'), both);
    assert.ok(both.includes('2,500 users'), both);
    assert.ok(both.includes('500'), both);
    const countOnly = describeThreshold({ count: 1200, percent: 5 }, null);
    assert.match(countOnly, /^1,200 \(SYNC_MAX_REMOVALS: at most 1,200\)$/);
    assert.match(describeThreshold({ count: undefined, percent: 5 }, null), /^500 \(/);
  });

  it('reads SYNC_MODE: delta by default, full in any case', () => {
    assert.equal(readSettings(valid).mode, 'delta');
    assert.equal(readSettings({ ...valid, SYNC_MODE: 'full' }).mode, 'full');
    assert.equal(readSettings({ ...valid, SYNC_MODE: 'FULL' }).mode, 'full');
    assert.equal(readSettings({ ...valid, SYNC_MODE: ' Delta ' }).mode, 'delta');
    assert.equal(readSettings({ ...valid, SYNC_MODE: '' }).mode, 'delta');
    assert.equal(SettingNames.syncMode, 'SYNC_MODE');
  });

  it('refuses another SYNC_MODE, naming both valid values', () => {
    const problems = problemsOf({ ...valid, SYNC_MODE: 'partial' });
    assert.equal(problems.length, 1, problems.join('\n'));
    const [problem = ''] = problems;
    assert.match(problem, /^SYNC_MODE "partial" must be delta\b.* or full\b/);
    assert.match(problem, /e\.g\. SYNC_MODE=delta$/);
  });

  it('reads SYNC_MAX_REMOVALS: 500 or 5% by default', () => {
    assert.deepEqual(readSettings(valid).maxRemovals, { count: 500, percent: 5 });
    assert.deepEqual(readSettings({ ...valid, SYNC_MAX_REMOVALS: '2%' }).maxRemovals, { count: undefined, percent: 2 });
    assert.deepEqual(readSettings({ ...valid, SYNC_MAX_REMOVALS: ' 50 ' }).maxRemovals, { count: 50, percent: undefined });
    assert.deepEqual(readSettings({ ...valid, SYNC_MAX_REMOVALS: ' ' }).maxRemovals, { count: 500, percent: 5 });
  });

  it('refuses a bad SYNC_MAX_REMOVALS, with examples', () => {
    for (const text of ['abc', '0%', '5%,6%']) {
      const problems = problemsOf({ ...valid, SYNC_MAX_REMOVALS: text });
      assert.equal(problems.length, 1, problems.join('\n'));
      const [problem = ''] = problems;
      assert.ok(problem.startsWith(`SYNC_MAX_REMOVALS ${JSON.stringify(text)} `), problem);
      assert.match(problem, /e\.g\. SYNC_MAX_REMOVALS=500, SYNC_MAX_REMOVALS=5% or SYNC_MAX_REMOVALS=500,5%/);
    }
  });

  it('reads SYNC_ALLOW_REMOVALS: unset by default, else a whole number of 1 or more', () => {
    assert.equal(readSettings(valid).allowRemovals, undefined);
    assert.equal(readSettings({ ...valid, SYNC_ALLOW_REMOVALS: '' }).allowRemovals, undefined);
    assert.equal(readSettings({ ...valid, SYNC_ALLOW_REMOVALS: '750' }).allowRemovals, 750);
    assert.equal(readSettings({ ...valid, SYNC_ALLOW_REMOVALS: '1' }).allowRemovals, 1);
    for (const text of ['0', 'x', '-5', '7.5', '1e3']) {
      const problems = problemsOf({ ...valid, SYNC_ALLOW_REMOVALS: text });
      assert.equal(problems.length, 1, `${text}: ${problems.join('\n')}`);
      const [problem = ''] = problems;
      assert.ok(problem.startsWith(`SYNC_ALLOW_REMOVALS ${JSON.stringify(text)} `), problem);
      assert.match(problem, /e\.g\. SYNC_ALLOW_REMOVALS=750/);
    }
  });

  it('reports the three together, one problem each', () => {
    const problems = problemsOf({ ...valid, SYNC_MODE: 'sometimes', SYNC_MAX_REMOVALS: 'lots', SYNC_ALLOW_REMOVALS: 'all' });
    assert.deepEqual(problems.map((p) => p.split(' ')[0]).sort(), ['SYNC_ALLOW_REMOVALS', 'SYNC_MAX_REMOVALS', 'SYNC_MODE']);
  });
});

describe('readSettings: GRAPH_CREDENTIAL and the settings of each mode', () => {
  const identity = '0b6e3a5c-9d1f-4c2a-8e7b-3f5d6c7a8b9c';
  const mi = {
    GRAPH_TENANT_ID: valid.GRAPH_TENANT_ID,
    GRAPH_CLIENT_ID: valid.GRAPH_CLIENT_ID,
    AzureWebJobsStorage: valid.AzureWebJobsStorage,
    GRAPH_CREDENTIAL: 'managed-identity',
    AZURE_CLIENT_ID: identity,
  };

  it('secret is the default; certificate needs GRAPH_CERTIFICATE_NAME and the vault', () => {
    assert.equal(readSettings(valid).credential.mode, 'secret');
    assert.deepEqual(readSettings({ ...valid, GRAPH_CREDENTIAL: 'Certificate', GRAPH_CERTIFICATE_NAME: 'graph-sync-cert' }).credential, {
      mode: 'certificate',
      keyVaultUrl: 'https://kv-sync.vault.azure.net',
      certificateName: 'graph-sync-cert',
    });
    const missing = problemsOf({ ...valid, GRAPH_CREDENTIAL: 'certificate' });
    assert.equal(missing.length, 1);
    assert.match(
      missing[0] ?? '',
      /^GRAPH_CERTIFICATE_NAME is missing: GRAPH_CREDENTIAL=certificate needs the name of the Key Vault certificate, e.g. GRAPH_CERTIFICATE_NAME=/,
    );
    assert.match(
      problemsOf({ ...valid, GRAPH_CREDENTIAL: 'certificate', GRAPH_CERTIFICATE_NAME: 'a b' })[0] ?? '',
      /^GRAPH_CERTIFICATE_NAME "a b" is not a Key Vault certificate name/,
    );
    assert.match(
      problemsOf({ ...valid, KEY_VAULT_URL: undefined, GRAPH_CREDENTIAL: 'certificate', GRAPH_CERTIFICATE_NAME: 'c' })[0] ?? '',
      /^KEY_VAULT_URL is missing: the URL of the Key Vault holding the certificate/,
    );
  });

  it('managed-identity needs no vault, takes AZURE_CLIENT_ID and derives the audience from the cloud', () => {
    assert.deepEqual(readSettings(mi).credential, { mode: 'managed-identity', audience: 'api://AzureADTokenExchange', identityClientId: identity });
    const audienceOf = (host: string): string => {
      const c = readSettings({ ...mi, AUTHORITY_HOST: host }).credential;
      return c.mode === 'managed-identity' ? c.audience : '';
    };
    assert.equal(audienceOf('https://login.microsoftonline.us'), 'api://AzureADTokenExchangeUSGov');
    assert.equal(audienceOf('https://login.chinacloudapi.cn'), 'api://AzureADTokenExchangeChina');
    assert.equal(audienceOf('https://127.0.0.1:8443'), 'api://AzureADTokenExchange');
    const custom = readSettings({ ...mi, GRAPH_FEDERATED_AUDIENCE: 'api://AzureADTokenExchangeCustom' }).credential;
    assert.equal(custom.mode === 'managed-identity' && custom.audience, 'api://AzureADTokenExchangeCustom');
    assert.match(
      problemsOf({ ...mi, GRAPH_FEDERATED_AUDIENCE: 'https://x' })[0] ?? '',
      /^GRAPH_FEDERATED_AUDIENCE "https:\/\/x" must be a token-exchange audience such as api:\/\/AzureADTokenExchange/,
    );
    assert.match(
      problemsOf({ ...mi, AZURE_CLIENT_ID: undefined })[0] ?? '',
      /^AZURE_CLIENT_ID is missing: GRAPH_CREDENTIAL=managed-identity needs the client ID of the Function App's user-assigned managed identity/,
    );
  });

  it('refuses a setting of another mode, naming the mode it belongs to', () => {
    const problems = problemsOf({ ...mi, KEY_VAULT_URL: 'https://kv-sync.vault.azure.net/', GRAPH_CLIENT_SECRET_NAME: 's', GRAPH_CERTIFICATE_NAME: 'c' });
    assert.deepEqual(problems, [
      'KEY_VAULT_URL belongs to GRAPH_CREDENTIAL=secret or certificate, not managed-identity: remove it (or set GRAPH_CREDENTIAL=secret)',
      'GRAPH_CLIENT_SECRET_NAME belongs to GRAPH_CREDENTIAL=secret, not managed-identity: remove it (or set GRAPH_CREDENTIAL=secret)',
      'GRAPH_CERTIFICATE_NAME belongs to GRAPH_CREDENTIAL=certificate, not managed-identity: remove it (or set GRAPH_CREDENTIAL=certificate)',
    ]);
    assert.deepEqual(problemsOf({ ...valid, GRAPH_CERTIFICATE_NAME: 'c', GRAPH_FEDERATED_AUDIENCE: 'api://AzureADTokenExchange' }), [
      'GRAPH_CERTIFICATE_NAME belongs to GRAPH_CREDENTIAL=certificate, not secret: remove it (or set GRAPH_CREDENTIAL=certificate)',
      'GRAPH_FEDERATED_AUDIENCE belongs to GRAPH_CREDENTIAL=managed-identity, not secret: remove it (or set GRAPH_CREDENTIAL=managed-identity)',
    ]);
    assert.deepEqual(problemsOf({ ...valid, GRAPH_CREDENTIAL: 'certificate', GRAPH_CERTIFICATE_NAME: 'c', GRAPH_CLIENT_SECRET_NAME: 's' }), [
      'GRAPH_CLIENT_SECRET_NAME belongs to GRAPH_CREDENTIAL=secret, not certificate: remove it (or set GRAPH_CREDENTIAL=secret)',
    ]);
  });

  it('an unknown mode names the three', () => {
    assert.match(
      problemsOf({ ...valid, GRAPH_CREDENTIAL: 'password' })[0] ?? '',
      /^GRAPH_CREDENTIAL "password" must be one of secret, certificate, managed-identity/,
    );
  });
});

describe('readSettings: scope (SYNC_GROUP_ID, USER_FILTER)', () => {
  const group = '6f1d2c3b-4a59-4e2e-9c3c-2b8f0a1d7e55';

  it('every user by default', () => {
    assert.deepEqual(readSettings(valid).scope, { groupId: undefined, filter: undefined, advancedFilter: false });
  });

  it('takes a group object id in either mode, and a filter in full mode', () => {
    assert.equal(readSettings({ ...valid, SYNC_GROUP_ID: group }).scope.groupId, group);
    assert.equal(readSettings({ ...valid, SYNC_MODE: 'full', SYNC_GROUP_ID: group }).scope.groupId, group);
    const both = readSettings({ ...valid, SYNC_MODE: 'full', SYNC_GROUP_ID: group, USER_FILTER: "accountEnabled eq true and department eq 'Sales'" }).scope;
    assert.deepEqual(both, { groupId: group, filter: "accountEnabled eq true and department eq 'Sales'", advancedFilter: false });
  });

  it('refuses a group that is not an object id, saying where to find it', () => {
    const problems = problemsOf({ ...valid, SYNC_GROUP_ID: 'Sales team' });
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(problems[0] ?? '', /^SYNC_GROUP_ID "Sales team" is not a GUID: .*Object ID.*e\.g\. SYNC_GROUP_ID=/);
  });

  it('refuses USER_FILTER in delta mode and suggests a group instead', () => {
    const problems = problemsOf({ ...valid, USER_FILTER: 'accountEnabled eq true' });
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(problems[0] ?? '', /^USER_FILTER is set, but SYNC_MODE=delta cannot use it: .*filters by id only.*SYNC_GROUP_ID=.*SYNC_MODE=full/);
  });

  it('refuses an unclosed string literal and an over-long filter', () => {
    const full = { ...valid, SYNC_MODE: 'full' };
    assert.match(problemsOf({ ...full, USER_FILTER: "department eq 'Sales" })[0] ?? '', /^USER_FILTER .* unclosed string literal/);
    assert.match(problemsOf({ ...full, USER_FILTER: `displayName eq '${'x'.repeat(1600)}'` })[0] ?? '', /^USER_FILTER is 1\d{3} characters long/);
    assert.equal(readSettings({ ...full, USER_FILTER: "companyName eq 'O''Brien'" }).scope.filter, "companyName eq 'O''Brien'");
  });

  it('knows which filters Graph serves only as advanced queries: ne, not, endsWith outside string literals', () => {
    const cases: [string, boolean][] = [
      ['accountEnabled eq true', false],
      ["startswith(displayName,'Ann') or department in ('Sales','Ops')", false],
      ['accountEnabled ne false', true],
      ["not(startswith(mail,'svc-'))", true],
      ["endsWith(mail,'@contoso.com')", true],
      ["department eq 'not ne endswith'", false],
      ["jobTitle eq 'Manager' and NOT (department eq 'IT')", true],
    ];
    for (const [filter, advanced] of cases) assert.equal(needsAdvancedQuery(filter), advanced, filter);
    assert.equal(readSettings({ ...valid, SYNC_MODE: 'full', USER_FILTER: 'accountEnabled ne false' }).scope.advancedFilter, true);
  });

  it('describes and keys the scope for run state and messages', () => {
    assert.equal(scopeKey({ groupId: undefined, filter: undefined, advancedFilter: false }), null);
    assert.equal(scopeKey({ groupId: group.toUpperCase(), filter: undefined, advancedFilter: false }), `group=${group}`);
    assert.equal(describeScope({ groupId: group, filter: undefined, advancedFilter: false }), `the members of group ${group}`);
  });
});

describe('readSettings: GRAPH_PARALLEL_READS', () => {
  it('is 1 (one sequential walk) by default, and takes 1 to 16', () => {
    assert.equal(readSettings(valid).parallelReads, 1);
    assert.equal(readSettings({ ...valid, GRAPH_PARALLEL_READS: '8' }).parallelReads, 8);
    for (const bad of ['0', '17', 'four', '2.5']) assert.match(problemsOf({ ...valid, GRAPH_PARALLEL_READS: bad })[0] ?? '', /^GRAPH_PARALLEL_READS /);
  });
});
