import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManagedIdentityCredential } from '@azure/identity';
import { createClientSecretSource, SyncError, SyncErrorCodes } from '../../../shared/internal';
import type { LocalStack } from '../../../local/stack';
import { startStackForTests } from '../../helpers/stack';

// Key Vault through the real @azure/keyvault-secrets and @azure/identity (managed identity,
// App Service protocol) against the stand-in vault and authority.
describe('Key Vault client secret source', () => {
  let stack: LocalStack;
  let credential: ManagedIdentityCredential;
  before(async () => {
    stack = await startStackForTests();
    credential = new ManagedIdentityCredential({ clientId: stack.identityClientId });
  });
  after(() => stack.stop());

  it('reads the secret through the challenge flow and caches it', async () => {
    const reads = stack.keyVault.counters.secretReads;
    const source = createClientSecretSource(stack.keyVault.url, stack.secretName, credential);
    const [a, b] = await Promise.all([source.get(), source.get()]);
    assert.equal(a, stack.clientSecret);
    assert.equal(b, stack.clientSecret);
    assert.equal(await source.get(), stack.clientSecret);
    assert.equal(source.reads, 1);
    assert.equal(stack.keyVault.counters.secretReads - reads, 1);
    assert.ok(stack.keyVault.counters.challenges >= 1, 'the first request should have met the 401 challenge');
  });

  it('reads Key Vault again after invalidate, and sees a rotated value', async () => {
    const source = createClientSecretSource(stack.keyVault.url, 'rotating', credential);
    stack.keyVault.setSecret('rotating', 'first');
    assert.equal(await source.get(), 'first');
    stack.keyVault.setSecret('rotating', 'second');
    assert.equal(await source.get(), 'first');
    source.invalidate();
    assert.equal(await source.get(), 'second');
    assert.equal(source.reads, 2);
  });

  it('says which secret is missing (404)', async () => {
    const source = createClientSecretSource(stack.keyVault.url, 'no-such-secret', credential);
    await assert.rejects(source.get(), (error: unknown) => {
      assert.ok(error instanceof SyncError);
      assert.equal(error.code, SyncErrorCodes.keyVaultSecretNotFound);
      assert.match(error.message, /no secret named "no-such-secret"/);
      assert.match(error.message, /GRAPH_CLIENT_SECRET_NAME/);
      return true;
    });
    // a failed read is not cached
    stack.keyVault.setSecret('no-such-secret', 'now-here');
    assert.equal(await source.get(), 'now-here');
  });

  it('says the identity lacks Key Vault Secrets User (403)', async () => {
    // Key Vault Certificate User may read secrets too (it includes secrets/getSecret/action): neither role.
    stack.keyVault.secretsUsers.delete(stack.identityPrincipalId);
    stack.keyVault.certificateUsers.delete(stack.identityPrincipalId);
    try {
      const source = createClientSecretSource(stack.keyVault.url, stack.secretName, credential);
      await assert.rejects(
        source.get(),
        (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.keyVaultForbidden && /Key Vault Secrets User/.test(error.message),
      );
    } finally {
      stack.keyVault.secretsUsers.add(stack.identityPrincipalId);
      stack.keyVault.certificateUsers.add(stack.identityPrincipalId);
    }
  });

  it('names the vault URL setting when the vault cannot be reached', async () => {
    const source = createClientSecretSource('https://127.0.0.1:1/', stack.secretName, credential);
    await assert.rejects(
      source.get(),
      (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.keyVaultUnreachable && /KEY_VAULT_URL/.test(error.message),
    );
  });
});
