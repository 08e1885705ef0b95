import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTokenError, TokenErrorCodes, TokenErrorMessages } from '../../../shared/internal';
import { itHasAMessagePerCode, itMakesEachCode, madeWith } from '../../helpers/error-families';

const family = { codes: TokenErrorCodes, messages: TokenErrorMessages };
const authority = 'https://login.microsoftonline.com/contoso.onmicrosoft.com';

describe('token errors', () => {
  itHasAMessagePerCode(family);
  itMakesEachCode(family, () => [
    createTokenError(TokenErrorCodes.clientIdUnknown, { clientId: 'app-id', tenantId: 'tenant-id' }, madeWith),
    createTokenError(TokenErrorCodes.tenantUnknown, { tenantId: 'tenant-id', authorityHost: 'https://login.microsoftonline.com', aadsts: '90023' }, madeWith),
    createTokenError(TokenErrorCodes.scopeInvalid, { scope: 'https://graph.microsoft.com/.default', aadsts: '1002012' }, madeWith),
    createTokenError(TokenErrorCodes.tokenFailed, { problem: 'noToken', scope: 'https://graph.microsoft.com/.default' }, madeWith),
    createTokenError(TokenErrorCodes.tokenFailed, { problem: 'badDiscovery', authority, status: 500 }, madeWith),
    createTokenError(
      TokenErrorCodes.tokenFailed,
      { problem: 'authorityUnreachable', authorityHost: 'https://login.example', causeText: 'ENOTFOUND' },
      madeWith,
    ),
    createTokenError(TokenErrorCodes.tokenFailed, { problem: 'failed', authority, causeText: 'ServerError: boom' }, madeWith),
  ]);

  it('names the settings to fix', () => {
    assert.equal(
      createTokenError(TokenErrorCodes.clientIdUnknown, { clientId: 'app-id', tenantId: 'tenant-id' }).message,
      `GRAPH_CLIENT_ID app-id is not an application in tenant tenant-id (AADSTS700016): ` +
        `set GRAPH_CLIENT_ID to the app registration's Application (client) ID, and GRAPH_TENANT_ID to the tenant it is registered in.`,
    );
    assert.equal(
      createTokenError(TokenErrorCodes.tenantUnknown, { tenantId: 'nope', authorityHost: 'https://login.microsoftonline.com', aadsts: undefined }).message,
      `GRAPH_TENANT_ID "nope" is not a tenant known to https://login.microsoftonline.com (AADSTS90002): ` +
        `set it to the Directory (tenant) ID of the app registration, and AUTHORITY_HOST to that tenant's cloud.`,
    );
  });
});
