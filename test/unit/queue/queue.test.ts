import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { QueueClient } from '@azure/storage-queue';
import { createQueueClient, describeQueueTarget, ensureQueue, QueueSender, SyncError, SyncErrorCodes } from '../../../shared/internal';
import { readSettings } from '../../../shared';
import { startAzurite, type RunningAzurite } from '../../../local/azurite';

/** Counts the client's sends in flight (the real sends, to the real Azurite); `peak` is the most at once. */
function countInFlight(client: QueueClient): { peak: number } {
  const counts = { now: 0, peak: 0 };
  const real = client.sendMessage.bind(client);
  client.sendMessage = async (text, options) => {
    counts.now++;
    counts.peak = Math.max(counts.peak, counts.now);
    try {
      return await real(text, options);
    } finally {
      counts.now--;
    }
  };
  return counts;
}

// The queue step against the real Azurite.
describe('queue', () => {
  let azurite: RunningAzurite;
  before(async () => {
    azurite = await startAzurite();
  });
  after(() => azurite.stop());

  const storage = () => ({
    kind: 'connectionString' as const,
    connectionString: azurite.connectionString,
    queueEndpoint: azurite.queueEndpoint,
    blobEndpoint: 'http://127.0.0.1:1/unused',
    settingName: 'AzureWebJobsStorage',
  });

  it('creates the queue if missing, and again is harmless', async () => {
    const client = createQueueClient(storage(), 'created-here');
    assert.equal(await client.exists(), false);
    await ensureQueue(client, 'created-here');
    await ensureQueue(client, 'created-here');
    assert.equal(await client.exists(), true);
  });

  it('sends every message with at most N in flight', async () => {
    const client = createQueueClient(storage(), 'bounded');
    await ensureQueue(client, 'bounded');
    const sends = countInFlight(client);
    const sender = new QueueSender(client, 4, 'bounded');
    for (let i = 0; i < 50; i++) await sender.enqueue(`m${i}`);
    await sender.drain();
    assert.equal(sender.sent, 50);
    assert.ok(sends.peak <= 4, `peak ${sends.peak}`);
    assert.ok(sends.peak >= 2, `sends should overlap (peak ${sends.peak})`);
    const { approximateMessagesCount } = await new QueueClient(azurite.connectionString, 'bounded').getProperties();
    assert.equal(approximateMessagesCount, 50);
  });

  it('keeps the bound with several callers at once (parallel reads), and wakes every waiting caller on a failure', async () => {
    const client = createQueueClient(storage(), 'shared-sender');
    await ensureQueue(client, 'shared-sender');
    const sends = countInFlight(client);
    const sender = new QueueSender(client, 3, 'shared-sender');
    const walk = async (name: string): Promise<void> => {
      for (let i = 0; i < 20; i++) await sender.enqueue(`${name}${i}`);
    };
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map(walk));
    await sender.drain();
    assert.equal(sender.sent, 100);
    assert.ok(sends.peak <= 3 && sends.peak >= 2, `peak ${sends.peak}`);

    // Every send fails: callers waiting for a slot must all be woken and see the failure, none left hanging.
    const failing = new QueueSender(createQueueClient(storage(), 'not-created-either', { retryOptions: { maxTries: 1 } }), 2, 'queue "not-created-either"');
    const outcomes = await Promise.allSettled(
      ['a', 'b', 'c', 'd', 'e'].map(async (name) => {
        for (let i = 0; i < 10; i++) await failing.enqueue(`${name}${i}`);
      }),
    );
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['rejected', 'rejected', 'rejected', 'rejected', 'rejected'],
    );
    for (const o of outcomes) assert.ok(o.status === 'rejected' && o.reason instanceof SyncError && o.reason.code === SyncErrorCodes.queueSendFailed);
    assert.equal(failing.sent, 0);
  });

  it('names the setting and the endpoint when the queue service is unreachable', async () => {
    const settings = readSettings({
      GRAPH_TENANT_ID: 'contoso.onmicrosoft.com',
      GRAPH_CLIENT_ID: '6731de76-14a6-49ae-97bc-6eba6914391e',
      KEY_VAULT_URL: 'https://kv.vault.azure.net',
      AzureWebJobsStorage: azurite.connectionString.replace(/:\d+\/devstoreaccount1/, ':1/devstoreaccount1'),
    });
    const client = createQueueClient(settings.storage, 'users', { retryOptions: { maxTries: 1 } });
    const target = describeQueueTarget(settings.storage, 'users');
    await assert.rejects(ensureQueue(client, target), (error: unknown) => {
      assert.ok(error instanceof SyncError);
      assert.equal(error.code, SyncErrorCodes.queueUnreachable);
      assert.match(error.message, /AzureWebJobsStorage/);
      assert.match(error.message, /http:\/\/127\.0\.0\.1:1\/devstoreaccount1/);
      assert.doesNotMatch(error.message, /AccountKey|Eby8/);
      return true;
    });
  });

  it('stops at the first failed send and reports it from drain', async () => {
    const client = createQueueClient(storage(), 'never-created-queue', { retryOptions: { maxTries: 1 } });
    const sender = new QueueSender(client, 2, 'queue "never-created-queue"');
    await sender.enqueue('a');
    await assert.rejects(
      sender.drain(),
      (error: unknown) =>
        error instanceof SyncError &&
        error.code === SyncErrorCodes.queueSendFailed &&
        /never-created-queue/.test(error.message) &&
        /does not exist/.test(error.message),
    );
  });
});

describe('queue with an identity that cannot sign in', () => {
  it('says no identity could get a token, with the az login / AzureWebJobsStorage__credential fix (not "could not create the queue")', async () => {
    const { CredentialUnavailableError } = await import('@azure/identity');
    const credential = {
      getToken: () => Promise.reject(new CredentialUnavailableError('DefaultAzureCredential: no credential in the chain could get a token')),
    };
    const storage = {
      kind: 'identity' as const,
      queueServiceUri: 'https://127.0.0.1:9/devstoreaccount1',
      blobServiceUri: 'https://127.0.0.1:9/devstoreaccount1',
      credential: undefined,
      clientId: undefined,
      settingName: 'AzureWebJobsStorage__queueServiceUri',
    };
    const client = createQueueClient(storage, 'users', { credential, retryOptions: { maxTries: 1 } });
    await assert.rejects(ensureQueue(client, 'queue "users" at https://127.0.0.1:9'), (error: unknown) => {
      assert.ok(error instanceof SyncError, String(error));
      assert.equal(error.code, SyncErrorCodes.storageAuthFailed, error.message);
      assert.match(error.message, /^No identity could get a token for Azure Storage \(queue "users" at https:\/\/127\.0\.0\.1:9\)/);
      assert.match(error.message, /az login/);
      assert.match(error.message, /AzureWebJobsStorage__credential=managedidentity/);
      return true;
    });
  });
});

// Azure Storage with RBAC, as far as these two answers go (Azurite does not enforce roles): an
// identity with only "Storage Queue Data Message Sender" may send but not create the queue.
describe('queue with a sender-only identity', () => {
  it('goes on when creating the queue is not permitted, and sends', async () => {
    const { createServer } = await import('node:http');
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(`${req.method ?? ''} ${(req.url ?? '').split('?')[0] ?? ''}`);
      req.resume();
      if (req.method === 'PUT') {
        res.writeHead(403, { 'content-type': 'application/xml', 'x-ms-error-code': 'AuthorizationPermissionMismatch' });
        res.end(
          '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthorizationPermissionMismatch</Code><Message>This request is not authorized to perform this operation using this permission.</Message></Error>',
        );
        return;
      }
      res.writeHead(201, { 'content-type': 'application/xml' });
      res.end(
        '<?xml version="1.0" encoding="utf-8"?><QueueMessagesList><QueueMessage><MessageId>1</MessageId><InsertionTime>Sat, 21 Nov 2026 06:00:00 GMT</InsertionTime><ExpirationTime>Sat, 28 Nov 2026 06:00:00 GMT</ExpirationTime><PopReceipt>p</PopReceipt><TimeNextVisible>Sat, 21 Nov 2026 06:00:00 GMT</TimeNextVisible></QueueMessage></QueueMessagesList>',
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const endpoint = `http://127.0.0.1:${port}/devstoreaccount1`;
      const storage = {
        kind: 'connectionString' as const,
        connectionString: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${Buffer.from('k').toString('base64')};QueueEndpoint=${endpoint}`,
        queueEndpoint: endpoint,
        blobEndpoint: endpoint,
        settingName: 'AzureWebJobsStorage',
      };
      const client = createQueueClient(storage, 'users', { retryOptions: { maxTries: 1 } });
      assert.equal(await ensureQueue(client, 'users'), 'not-permitted');
      const sender = new QueueSender(client, 2, 'users');
      await sender.enqueue('hello');
      await sender.drain();
      assert.equal(sender.sent, 1);
      assert.deepEqual(seen, ['PUT /devstoreaccount1/users', 'POST /devstoreaccount1/users/messages']);
    } finally {
      server.close();
    }
  });
});
