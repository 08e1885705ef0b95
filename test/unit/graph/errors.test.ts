import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createGraphError, createGraphResyncRequired, GraphErrorCodes, GraphErrorMessages, isGraphResyncRequired } from '../../../shared/internal';
import { itHasAMessagePerCode, itMakesEachCode, madeWith } from '../../helpers/error-families';

const family = { codes: GraphErrorCodes, messages: GraphErrorMessages };
const refusal = { graphCode: 'Request_BadRequest', graphMessage: 'Invalid filter clause' };

describe('graph errors', () => {
  itHasAMessagePerCode(family);
  itMakesEachCode(
    family,
    () => [
      createGraphError(GraphErrorCodes.graphUnreachable, { origin: 'https://graph.microsoft.com', causeText: 'ECONNREFUSED' }, madeWith),
      createGraphError(GraphErrorCodes.graphRequestFailed, { problem: 'noAnswer', url: 'https://graph.microsoft.com/v1.0/users', causeText: 'boom' }, madeWith),
      createGraphError(GraphErrorCodes.graphRequestFailed, { problem: 'answered', what: 'GET /users', status: 500, ...refusal, requestId: 'r-1' }, madeWith),
      ...(
        [
          { problem: 'foreignNextLink', host: 'https://evil.example', origin: 'https://graph.microsoft.com' },
          { problem: 'notJson', origin: 'https://graph.microsoft.com' },
          { problem: 'noValue' },
          { problem: 'linkNotString', name: '@odata.nextLink' },
          { problem: 'entryNotObject', index: 3 },
          { problem: 'entryWithoutId', index: 3 },
          { problem: 'removedWithoutReason', index: 3 },
          { problem: 'memberNotGuid', index: 3 },
          { problem: 'noLatestDeltaLink' },
        ] as const
      ).map((params) => createGraphError(GraphErrorCodes.graphResponseInvalid, params, madeWith)),
      createGraphError(GraphErrorCodes.graphPageLinkExpired, { graphCode: 'ExpiredPageToken' }, madeWith),
      createGraphError(GraphErrorCodes.groupNotFound, { groupId: 'g-1', graphCode: 'Request_ResourceNotFound', tenantLabel: undefined }, madeWith),
      createGraphError(
        GraphErrorCodes.graphConsentRequired,
        { what: 'GET /users', graphCode: 'Authorization_RequestDenied', group: false, adminConsentUrl: 'https://consent.example' },
        madeWith,
      ),
      createGraphError(GraphErrorCodes.graphTokenRejected, { graphCode: 'InvalidAuthenticationToken', graphMessage: 'bad audience' }, madeWith),
      createGraphError(GraphErrorCodes.userFilterRefused, refusal, madeWith),
      createGraphError(GraphErrorCodes.graphBadRequest, { problem: 'byId', ...refusal }, madeWith),
      createGraphError(GraphErrorCodes.graphBadRequest, { problem: 'fields', what: 'GET /users', ...refusal, filtered: true }, madeWith),
    ],
    [GraphErrorCodes.graphDeltaLinkExpired],
  );

  it('makes GRAPH_DELTA_LINK_EXPIRED as the typed GraphResyncRequired, with its restart location', () => {
    const error = createGraphResyncRequired(
      { status: 410, graphCode: '' },
      { status: 410, graphCode: '', requestId: 'r-1' },
      'https://graph.microsoft.com/v1.0/users/delta?$deltatoken=x',
    );
    assert.ok(isGraphResyncRequired(error));
    assert.equal(error.code, GraphErrorCodes.graphDeltaLinkExpired);
    assert.equal(error.location, 'https://graph.microsoft.com/v1.0/users/delta?$deltatoken=x');
    assert.deepEqual(error.details, { status: 410, graphCode: '', requestId: 'r-1', location: error.location });
    assert.equal(error.message, 'Microsoft Graph reset the sync state (410 Gone): the delta link can no longer be used and a full resync is needed.');
    assert.equal(
      createGraphResyncRequired({ status: 400, graphCode: 'syncStateNotFound' }, {}, undefined).message,
      'Microsoft Graph no longer knows the saved delta link (400 syncStateNotFound: delta links expire after about 7 days without a run): a full resync is needed.',
    );
  });

  it('names the permission, the group and the tenant', () => {
    const consent = { what: 'the members of group g-1', graphCode: 'Authorization_RequestDenied', adminConsentUrl: 'https://consent.example' };
    assert.equal(
      createGraphError(GraphErrorCodes.graphConsentRequired, { ...consent, group: true }).message,
      'Microsoft Graph denied the members of group g-1 (403 Authorization_RequestDenied): the app needs the application permission ' +
        'GroupMember.Read.All (to read the members of SYNC_GROUP_ID) besides User.Read.All (Microsoft Graph) with admin consent. ' +
        'An administrator can grant it at https://consent.example',
    );
    assert.equal(
      createGraphError(GraphErrorCodes.groupNotFound, { groupId: 'g-1', graphCode: 'Request_ResourceNotFound', tenantLabel: 'contoso' }).message,
      "SYNC_GROUP_ID g-1 names no group Microsoft Graph knows (404 Request_ResourceNotFound): set it to the object ID of a group in tenant contoso (Entra admin center, Groups, the group's Object ID), or remove it to sync every user.",
    );
    assert.match(
      createGraphError(GraphErrorCodes.groupNotFound, { groupId: 'g-1', graphCode: 'x', tenantLabel: undefined }).message,
      /in tenant GRAPH_TENANT_ID \(/,
    );
  });
});
