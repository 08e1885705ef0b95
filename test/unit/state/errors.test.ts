import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createStateError, StateErrorCodes, StateErrorMessages } from '../../../shared/internal';
import { itHasAMessagePerCode, itMakesEachCode, madeWith } from '../../helpers/error-families';

const family = { codes: StateErrorCodes, messages: StateErrorMessages };
const where = 'blob container "sync-state" at http://127.0.0.1:10000/devstoreaccount1 (setting AzureWebJobsStorage)';

describe('state errors', () => {
  itHasAMessagePerCode(family);
  itMakesEachCode(family, () => [
    createStateError(StateErrorCodes.runLocked, { problem: 'held', blobName: 'users.json', where, leaseSeconds: 60 }, madeWith),
    createStateError(StateErrorCodes.runLocked, { problem: 'lost', blobName: 'users.json', status: 412, renewCauseText: undefined }, madeWith),
    createStateError(StateErrorCodes.runLocked, { problem: 'lost', blobName: 'users.json', status: 409, renewCauseText: 'RestError: down' }, madeWith),
    ...(['forbidden', 'unreachable', undefined] as const).map((hint) =>
      createStateError(
        StateErrorCodes.runStateFailed,
        { problem: 'checkpoint', action: 'write', blobName: 'users.json', where, hint, causeText: 'RestError: boom' },
        madeWith,
      ),
    ),
    createStateError(
      StateErrorCodes.runStateFailed,
      { problem: 'membership', action: 'read', name: 'users.members.r.1.bin', where, causeText: 'boom' },
      madeWith,
    ),
    createStateError(StateErrorCodes.runStateFailed, { problem: 'membersMissing', name: 'users.members.r.1.bin' }, madeWith),
  ]);

  it('says who holds the lock and what a lost lock means', () => {
    assert.equal(
      createStateError(StateErrorCodes.runLocked, { problem: 'held', blobName: 'users.json', where, leaseSeconds: 60 }).message,
      `Another run holds the run lock (a lease on users.json in the ${where}); this run sends nothing and leaves the work to it. ` +
        `A lock left by a run that died frees itself within 60 s.`,
    );
    assert.equal(
      createStateError(StateErrorCodes.runLocked, { problem: 'lost', blobName: 'users.json', status: 412, renewCauseText: 'RestError: down' }).message,
      'This run lost the run lock on users.json (HTTP 412; renewing it failed: RestError: down): it stops so that two runs never both advance the checkpoint.',
    );
    assert.equal(
      createStateError(StateErrorCodes.runStateFailed, {
        problem: 'checkpoint',
        action: 'read',
        blobName: 'users.json',
        where,
        hint: 'forbidden',
        causeText: 'x',
      }).message,
      `Could not read the run state users.json in the ${where}: the identity needs "Storage Blob Data Contributor" on the container (infra/ assigns it) (x).`,
    );
  });
});
