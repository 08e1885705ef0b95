import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { syncUsersHandler } from '../../functions/sync-users/handler';
import { createManagedIdentityCredential, SyncError, type SyncErrorCode, SyncErrorCodes } from '../../shared/internal';
import { startLocalStack, type LocalStack, type StackCredential } from '../../local/stack';
import { generateCertificate } from '../../local/stand-ins/certificates';
import { applySettings, drainQueue, startStackForTests, testContext, timer } from '../helpers/stack';

// GRAPH_CREDENTIAL end to end: each mode through the Function handler, the real SDKs (msal-node,
// @azure/identity, @azure/keyvault-certificates and -secrets) and the stand-ins, which check the
// assertions as Entra ID does; and every refusal a user will meet, with the fix it names.
const users = 250;

describe('Graph credential modes, end to end', () => {
  let stack: LocalStack;
  let queue: string;
  before(async () => {
    stack = await startStackForTests({ users });
  });
  after(() => stack.stop());
  beforeEach(() => {
    stack.faults.clear();
    stack.entra.identityTokenLifetimeSeconds = undefined;
  });

  /** Fresh queue, so a fresh runtime (no cached credential, no msal cache). */
  function use(mode: StackCredential, extra: Record<string, string | undefined> = {}): void {
    queue = `cred-${randomUUID().slice(0, 8)}`;
    applySettings(stack, { ...stack.settingsFor(mode), USERS_QUEUE_NAME: queue, SYNC_MODE: 'full', ...extra });
  }
  async function fails(code: SyncErrorCode, ...patterns: RegExp[]): Promise<string> {
    const { context, logs } = testContext();
    await assert.rejects(syncUsersHandler(timer(), context), (error: unknown) => error instanceof SyncError && error.code === code);
    const line = logs.find((l) => l.level === 'error')?.text ?? '';
    for (const pattern of patterns) assert.match(line, pattern);
    return line;
  }

  for (const mode of ['secret', 'certificate', 'managed-identity'] as const) {
    it(`${mode}: syncs every user`, async () => {
      use(mode);
      const before = { ...stack.entra.counters, ...stack.keyVault.counters };
      const summary = await syncUsersHandler(timer(), testContext().context);
      assert.equal(summary.snapshots, users);
      assert.equal((await drainQueue(stack.azurite.connectionString, queue)).length, users);
      const read = (name: 'secretReads' | 'certificateReads'): number => stack.keyVault.counters[name] - before[name];
      const accepted = (name: 'certificateAssertionsAccepted' | 'federatedAssertionsAccepted'): number => stack.entra.counters[name] - before[name];
      if (mode === 'secret') assert.deepEqual([read('secretReads'), read('certificateReads'), accepted('certificateAssertionsAccepted')], [1, 0, 0]);
      if (mode === 'certificate')
        assert.deepEqual([read('certificateReads') >= 1, accepted('certificateAssertionsAccepted'), accepted('federatedAssertionsAccepted')], [true, 1, 0]);
      if (mode === 'managed-identity') {
        assert.deepEqual([read('secretReads'), read('certificateReads'), accepted('federatedAssertionsAccepted')], [0, 0, 1], 'no Key Vault at all');
      }
    });
  }

  describe('certificate', () => {
    it('reads both content types Key Vault uses (PKCS#12 and PEM)', async () => {
      for (const contentType of ['application/x-pem-file', 'application/x-pkcs12'] as const) {
        const generated = stack.rotateCertificate();
        stack.keyVault.setCertificate(stack.certificateName, generated, { contentType });
        use('certificate');
        assert.equal((await syncUsersHandler(timer(), testContext().context)).snapshots, users, contentType);
        await drainQueue(stack.azurite.connectionString, queue);
      }
    });

    it('a rotated certificate (a new version, the old one no longer on the app) is picked up by the next run', async () => {
      use('certificate');
      await syncUsersHandler(timer(), testContext().context);
      const before = stack.entra.counters.certificateAssertionsAccepted;
      stack.rotateCertificate();
      const summary = await syncUsersHandler(timer(), testContext().context);
      assert.equal(summary.tokenFromCache, false, 'a new msal app for the new certificate: a new token');
      assert.equal(stack.entra.counters.certificateAssertionsAccepted - before, 1, 'signed with the new version');
      await drainQueue(stack.azurite.connectionString, queue);
    });

    it('not in the vault: names the certificate, the vault and the setting', async () => {
      use('certificate', { GRAPH_CERTIFICATE_NAME: 'no-such-cert' });
      await fails(
        SyncErrorCodes.certificateNotFound,
        /has no certificate named "no-such-cert": create it \(az keyvault certificate create, exportable key\), or set GRAPH_CERTIFICATE_NAME/,
      );
    });

    it('a key that is not exportable: the secret holds no private key, and the message says how to make one that works', async () => {
      stack.keyVault.setCertificate('not-exportable', generateCertificate(), { exportable: false });
      use('certificate', { GRAPH_CERTIFICATE_NAME: 'not-exportable' });
      await fails(
        SyncErrorCodes.certificateUnusable,
        /certificate "not-exportable" .* cannot be used: its secret holds no private key: the certificate's key is not exportable/,
      );
    });

    it('an expired certificate: says when it expired and what to do', async () => {
      stack.keyVault.setCertificate('expired-cert', generateCertificate({ expired: true }));
      use('certificate', { GRAPH_CERTIFICATE_NAME: 'expired-cert' });
      await fails(
        SyncErrorCodes.certificateUnusable,
        /cannot be used: it expired on \d{4}-\d\d-\d\dT.*create a new version in Key Vault and upload its public part/,
      );
    });

    it("an assertion outside its valid time (AADSTS700024: this machine's clock is 30 minutes behind Entra's): a new one once, then says to check the clock", async () => {
      stack.entra.clockOffsetSeconds = 1800;
      try {
        use('certificate');
        await fails(SyncErrorCodes.assertionExpired, /AADSTS700024\), also after making a new one: this machine's clock is probably wrong/);
      } finally {
        stack.entra.clockOffsetSeconds = 0;
      }
    });

    it('not uploaded to the app registration (AADSTS700027): read again once, then the thumbprints and the commands to upload it', async () => {
      const stranger = generateCertificate();
      stack.keyVault.setCertificate('not-on-the-app', stranger);
      use('certificate', { GRAPH_CERTIFICATE_NAME: 'not-on-the-app' });
      const reads = stack.keyVault.counters.certificateReads;
      await fails(
        SyncErrorCodes.certificateRejected,
        /AADSTS700027\), also after reading the certificate again/,
        new RegExp(`SHA-1 thumbprint ${stranger.thumbprintSha1Hex} as the portal shows it`),
        /az ad app credential reset --id [\w-]+ --cert @cert\.pem --append/,
      );
      assert.ok(stack.keyVault.counters.certificateReads - reads >= 2, 'read again before giving up');
    });
  });

  describe('managed-identity (federated credential)', () => {
    it('no federated credential matches (AADSTS70021): prints the issuer, subject and audience the app registration needs', async () => {
      const app = stack.entra.apps.get(stack.clientId);
      assert.ok(app);
      const saved = app.federatedCredentials ?? [];
      app.federatedCredentials = [];
      try {
        use('managed-identity');
        const line = await fails(SyncErrorCodes.federatedCredentialMismatch, /AADSTS70021/);
        assert.ok(
          line.includes(`issuer ${stack.entra.url}/${stack.tenantId}/v2.0, subject ${stack.identityPrincipalId} and audience api://AzureADTokenExchange`),
          line,
        );
        assert.match(
          line,
          /az ad app federated-credential create --id [\w-]+ --parameters '\{"name":"graph-user-sync","issuer":"https:\/\/127\.0\.0\.1:\d+\/[\w-]+\/v2\.0","subject":"[\w-]+","audiences":\["api:\/\/AzureADTokenExchange"\]\}'/,
        );
      } finally {
        app.federatedCredentials = saved;
      }
    });

    it('an identity the Function App does not have: names AZURE_CLIENT_ID', async () => {
      use('managed-identity', { AZURE_CLIENT_ID: randomUUID() });
      await fails(
        SyncErrorCodes.managedIdentityFailed,
        /could not get a token for api:\/\/AzureADTokenExchange: .*Assign that user-assigned identity to the Function App, or set AZURE_CLIENT_ID/,
      );
    });
  });
});

describe('the local stack of one credential mode', () => {
  it('managed-identity: the vault holds no secret and no certificate, and the settings name no vault; certificate: no plain secret', async () => {
    const only = await startLocalStack({ credential: 'managed-identity' });
    try {
      assert.equal(only.keyVault.secrets.size, 0);
      assert.equal(only.keyVault.certificateVersions(only.certificateName).length, 0);
      assert.deepEqual(
        [only.settings['GRAPH_CREDENTIAL'], only.settings['KEY_VAULT_URL'], only.settings['GRAPH_CLIENT_SECRET_NAME']],
        ['managed-identity', undefined, undefined],
      );
    } finally {
      await only.stop();
    }
    const certificate = await startLocalStack({ credential: 'certificate' });
    try {
      assert.equal(certificate.keyVault.secrets.size, 0, 'no plain secret');
      assert.equal(certificate.keyVault.certificateVersions(certificate.certificateName).length, 1);
      assert.equal(certificate.settings['GRAPH_CLIENT_SECRET_NAME'], undefined);
    } finally {
      await certificate.stop();
    }
  });
});

describe('managed-identity assertion callback (own clock)', () => {
  it('is fetched once, kept until five minutes before it expires, then fetched again', async () => {
    let clock = 1_000_000;
    const issued: AccessToken[] = [];
    const identity: TokenCredential = {
      getToken: (scopes) => {
        assert.equal(scopes, 'api://AzureADTokenExchange/.default');
        const token = { token: `assertion-${issued.length + 1}`, expiresOnTimestamp: clock + 3_600_000 };
        issued.push(token);
        return Promise.resolve(token);
      },
    };
    const credential = createManagedIdentityCredential(identity, 'api://AzureADTokenExchange', 'client', { now: () => clock });
    const { auth } = await credential.current();
    const callback = auth.clientAssertion;
    assert.ok(typeof callback === 'function');
    const config = { clientId: 'app', tokenEndpoint: 'https://login/token' };
    assert.equal(await callback(config), 'assertion-1');
    clock += 3_600_000 - 301_000; // 5 min 1 s before expiry: still served from the cache
    assert.equal(await callback(config), 'assertion-1');
    clock += 2_000; // inside the last five minutes: a new one
    assert.equal(await callback(config), 'assertion-2');
    credential.invalidate(); // Entra refused it: the next call fetches again
    assert.equal(await callback(config), 'assertion-3');
    assert.equal(credential.reads, 3);
  });
});
