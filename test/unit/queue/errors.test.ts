import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createQueueError, QueueErrorCodes, QueueErrorMessages } from '../../../shared/internal';
import { itHasAMessagePerCode, itMakesEachCode, madeWith } from '../../helpers/error-families';

const family = { codes: QueueErrorCodes, messages: QueueErrorMessages };
const target = 'queue "users" at http://127.0.0.1:10001/devstoreaccount1 (setting AzureWebJobsStorage, connection string)';

describe('queue errors', () => {
  itHasAMessagePerCode(family);
  itMakesEachCode(family, () => [
    createQueueError(QueueErrorCodes.queueUnreachable, { target, causeText: 'ECONNREFUSED' }, madeWith),
    createQueueError(QueueErrorCodes.queueAccessDenied, { action: 'create', target, status: 403 }, madeWith),
    createQueueError(QueueErrorCodes.queueAccessDenied, { action: 'send', target, status: 401 }, madeWith),
    createQueueError(QueueErrorCodes.queueSendFailed, { problem: 'queueMissing', target }, madeWith),
    createQueueError(QueueErrorCodes.queueSendFailed, { problem: 'failed', action: 'send', target, causeText: 'RestError: boom' }, madeWith),
    createQueueError(
      QueueErrorCodes.overflowFailed,
      { problem: 'blobFailed', userId: 'u-1', where: 'blob container "users-overflow"', causeText: 'boom' },
      madeWith,
    ),
    createQueueError(QueueErrorCodes.overflowFailed, { problem: 'tooLargeAsClaimCheck', type: 'user.upserted', messageId: 'm-1' }, madeWith),
  ]);

  it('says what Storage refused and the role it needs', () => {
    assert.equal(
      createQueueError(QueueErrorCodes.queueAccessDenied, { action: 'send', target, status: 403 }).message,
      `Storage refused to write to the ${target} (403): with a managed identity it needs the "Storage Queue Data Contributor" role on the account; with a connection string, check the key.`,
    );
    assert.equal(
      createQueueError(QueueErrorCodes.queueUnreachable, { target, causeText: 'RestError: connect ECONNREFUSED' }).message,
      `Could not reach the ${target}: RestError: connect ECONNREFUSED. Check the setting, and that the storage account (or Azurite) is running.`,
    );
  });
});
