import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createStorageError, StorageErrorCodes, StorageErrorMessages } from '../../../shared/internal';
import { itHasAMessagePerCode, itMakesEachCode, madeWith } from '../../helpers/error-families';

const family = { codes: StorageErrorCodes, messages: StorageErrorMessages };

describe('storage errors', () => {
  itHasAMessagePerCode(family);
  itMakesEachCode(family, () => [
    createStorageError(StorageErrorCodes.storageAuthFailed, { target: 'queue "users"', causeText: 'CredentialUnavailableError: no' }, madeWith),
  ]);

  it('names both fixes of an identity-based connection', () => {
    assert.equal(
      createStorageError(StorageErrorCodes.storageAuthFailed, { target: 'queue "users"', causeText: 'CredentialUnavailableError: no' }).message,
      `No identity could get a token for Azure Storage (queue "users"): in Azure enable the Function App's managed identity and set AzureWebJobsStorage__credential=managedidentity ` +
        `(with AzureWebJobsStorage__clientId for a user-assigned one); on a laptop leave AzureWebJobsStorage__credential unset and sign in with "az login" (DefaultAzureCredential). ` +
        `Cause: CredentialUnavailableError: no`,
    );
  });
});
