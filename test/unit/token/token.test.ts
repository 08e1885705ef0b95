import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ManagedIdentityCredential } from '@azure/identity';
import jwt from 'jsonwebtoken';
import {
  type AppTokenProviderOptions,
  createAppTokenProvider,
  createClientSecretSource,
  createSecretCredential,
  fixedBudget,
  RetryBudget,
  SyncError,
  SyncErrorCodes,
} from '../../../shared/internal';
import { freePort } from '../../../local/net';
import type { LocalStack } from '../../../local/stack';
import { graphTokenProvider, startStackForTests } from '../../helpers/stack';

// msal-node's client credentials flow against the stand-in authority (a non-Microsoft host, so
// knownAuthorities must carry it), with the secret from the stand-in vault.
describe('app-only token (msal-node)', () => {
  let stack: LocalStack;
  let credential: ManagedIdentityCredential;
  before(async () => {
    stack = await startStackForTests();
    credential = new ManagedIdentityCredential({ clientId: stack.identityClientId });
  });
  after(() => stack.stop());

  function provider(overrides: Partial<AppTokenProviderOptions> = {}, secretName = stack.secretName): ReturnType<typeof createAppTokenProvider> {
    return graphTokenProvider(stack, overrides, secretName);
  }

  function expectCode(code: string, ...patterns: RegExp[]) {
    return (error: unknown): boolean => {
      assert.ok(error instanceof SyncError, String(error));
      assert.equal(error.code, code, error.message);
      for (const p of patterns) assert.match(error.message, p);
      return true;
    };
  }

  it('gets a Graph token with the app role, then serves the next from the cache', async () => {
    const tokens = provider();
    const issued = stack.entra.counters.tokensIssued;
    const first = await tokens.getToken();
    assert.equal(first.fromCache, false);
    const claims = jwt.decode(first.accessToken) as Record<string, unknown>;
    assert.equal(claims['aud'], stack.graph.url);
    assert.equal(claims['appid'], stack.clientId);
    assert.equal(claims['tid'], stack.tenantId);
    assert.deepEqual(claims['roles'], ['User.Read.All', 'GroupMember.Read.All']);
    const second = await tokens.getToken();
    assert.equal(second.fromCache, true);
    assert.equal(second.accessToken, first.accessToken);
    assert.equal(stack.entra.counters.tokensIssued - issued, 1);
  });

  it('accepts a verified domain as the tenant', async () => {
    const token = await provider({ tenantId: 'contoso.onmicrosoft.com' }).getToken();
    assert.equal((jwt.decode(token.accessToken) as Record<string, unknown>)['tid'], stack.tenantId);
  });

  it('re-reads a rotated secret from Key Vault once when Entra ID rejects the cached one', async () => {
    const name = 'rotation-test';
    const app = stack.entra.apps.get(stack.clientId.toLowerCase());
    assert.ok(app);
    stack.keyVault.setSecret(name, stack.clientSecret);
    const source = createClientSecretSource(stack.keyVault.url, name, credential);
    assert.equal(await source.get(), stack.clientSecret);
    // Rotate: Entra ID accepts only the new value and Key Vault holds it; our cache holds the old one.
    const rotated = `rotated~${randomUUID()}`;
    const previous = [...app.secrets];
    app.secrets.splice(0, app.secrets.length, rotated);
    stack.keyVault.setSecret(name, rotated);
    try {
      const tokens = createAppTokenProvider({
        tenantId: stack.tenantId,
        clientId: stack.clientId,
        authorityHost: stack.entra.url,
        scope: `${stack.graph.url}/.default`,
        credential: createSecretCredential(source, name),
      });
      const token = await tokens.getToken();
      assert.equal(token.fromCache, false);
      assert.equal(source.reads, 2);
      assert.equal(await source.get(), rotated);
    } finally {
      app.secrets.splice(0, app.secrets.length, ...previous);
    }
  });

  it('re-reads only once when Key Vault still holds the rejected secret', async () => {
    stack.keyVault.setSecret('stale-secret', 'stale-value');
    const source = createClientSecretSource(stack.keyVault.url, 'stale-secret', credential);
    const tokens = createAppTokenProvider({
      tenantId: stack.tenantId,
      clientId: stack.clientId,
      authorityHost: stack.entra.url,
      scope: `${stack.graph.url}/.default`,
      credential: createSecretCredential(source, 'stale-secret'),
    });
    await assert.rejects(tokens.getToken(), expectCode(SyncErrorCodes.clientSecretRejected, /also after reading it again/));
    assert.equal(source.reads, 2);
  });

  it('explains a wrong secret (AADSTS7000215): value, not id', async () => {
    stack.keyVault.setSecret('wrong-secret', 'a3f1c2d4-0000-4000-8000-000000000000');
    await assert.rejects(
      provider({}, 'wrong-secret').getToken(),
      expectCode(SyncErrorCodes.clientSecretRejected, /"wrong-secret"/, /AADSTS7000215/, /Value/, /not its Secret ID/),
    );
  });

  it('tells an expired secret (AADSTS7000222) apart from a wrong one: names the Key Vault secret, the vault and the rotation steps', async () => {
    const app = stack.entra.apps.get(stack.clientId.toLowerCase());
    assert.ok(app);
    stack.entra.expireSecret(stack.clientId, stack.clientSecret);
    try {
      await assert.rejects(
        provider({}).getToken(),
        expectCode(
          SyncErrorCodes.clientSecretExpired,
          new RegExp(`Key Vault secret "${stack.secretName}" at ${stack.keyVault.url.replace(/[.]/g, '\\.')}`),
          /has expired \(AADSTS7000222\)/,
          /az ad app credential reset --id [\w-]+ --append/,
          /az keyvault secret set/,
        ),
      );
    } finally {
      app.secrets.push(stack.clientSecret);
      app.expiredSecrets = [];
    }
  });

  it('names GRAPH_CLIENT_ID for an unknown application (AADSTS700016)', async () => {
    await assert.rejects(provider({ clientId: randomUUID() }).getToken(), expectCode(SyncErrorCodes.clientIdUnknown, /GRAPH_CLIENT_ID/, /AADSTS700016/));
  });

  it('names GRAPH_TENANT_ID for an unknown tenant (AADSTS90002)', async () => {
    await assert.rejects(provider({ tenantId: randomUUID() }).getToken(), expectCode(SyncErrorCodes.tenantUnknown, /GRAPH_TENANT_ID/, /AADSTS90002/));
  });

  it('names GRAPH_BASE_URL for a scope Entra ID refuses', async () => {
    await assert.rejects(
      provider({ scope: `${stack.graph.url}/User.Read.All` }).getToken(),
      expectCode(SyncErrorCodes.scopeInvalid, /AADSTS1002012/, /GRAPH_BASE_URL/),
    );
    await assert.rejects(provider({ scope: 'https://127.0.0.1:9/.default' }).getToken(), expectCode(SyncErrorCodes.scopeInvalid, /AADSTS500011/));
  });

  it('retries an unreachable authority within the budget, then names AUTHORITY_HOST, the last answer and how long it tried', async () => {
    const closed = await freePort();
    const started = Date.now();
    await assert.rejects(
      provider({ authorityHost: `https://127.0.0.1:${closed}`, budgets: fixedBudget(new RetryBudget(1500)) }).getToken(),
      expectCode(SyncErrorCodes.retryBudgetExhausted, /^Entra ID kept failing: last answer ECONNREFUSED/, /AUTHORITY_HOST/, /attempts over/),
    );
    assert.ok(Date.now() - started < 6000, 'bounded by the budget');
  });
});
