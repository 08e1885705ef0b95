import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TokenCredential } from '@azure/core-auth';
import {
  fixedBudget,
  groupMembersUrl,
  readUserPages,
  RetryBudget,
  SyncError,
  SyncErrorCodes,
  usersUrl,
  type GraphUsersOptions,
} from '../../../shared/internal';
import { startLocalStack, type LocalStack } from '../../../local/stack';
import { appToken } from '../../helpers/graph-delta-client';

// What the Graph reader does with the USER_FIELDS Graph serves with limits (issue 22, section 2),
// against the Graph stand-in: signInActivity read 500 users a page (user-list.md), its 403s named
// (AuditLog.Read.All, the tenant's license), and a 501 for a property no list serves.

const staticToken = (token: string): TokenCredential => ({ getToken: () => Promise.resolve({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) });

describe('Graph reader: fields served with limits', () => {
  let stack: LocalStack;
  let withoutAudit: string;
  let withAudit: string;

  before(async () => {
    stack = await startLocalStack({ users: 1200 });
    withoutAudit = await appToken(stack);
    stack.entra.apps.get(stack.clientId.toLowerCase())?.appRoles[stack.graph.url]?.push('AuditLog.Read.All');
    withAudit = await appToken(stack);
  });
  after(() => stack.stop());

  function options(fields: readonly string[], token: string): GraphUsersOptions {
    return {
      baseUrl: stack.graph.url,
      fields,
      credential: staticToken(token),
      adminConsentUrl: 'https://consent.example/adminconsent',
      budgets: fixedBudget(new RetryBudget(30_000)),
    };
  }

  async function pageSizes(opts: GraphUsersOptions): Promise<number[]> {
    const sizes: number[] = [];
    for await (const page of readUserPages(opts)) sizes.push(page.entries.length);
    return sizes;
  }

  async function failure(opts: GraphUsersOptions): Promise<SyncError> {
    try {
      await pageSizes(opts);
    } catch (error) {
      assert.ok(error instanceof SyncError, String(error));
      return error;
    }
    assert.fail('expected the read to fail');
  }

  it('asks for $top=500 when signInActivity is selected (any case), 999 otherwise; a group’s members too', () => {
    assert.match(usersUrl('https://graph.microsoft.com', ['id', 'signInActivity']), /\$top=500(&|$)/);
    assert.match(
      usersUrl('https://graph.microsoft.com', ['id', 'SignInActivity'], undefined, { filter: "startsWith(userPrincipalName,'a')", advanced: true }),
      /\$top=500&/,
    );
    assert.match(usersUrl('https://graph.microsoft.com', ['id', 'displayName']), /\$top=999(&|$)/);
    assert.match(groupMembersUrl('https://graph.microsoft.com', '11111111-2222-3333-4444-555555555555', ['id', 'signInActivity']), /\$top=500&/);
  });

  it('reads 1,200 users with signInActivity in pages of 500, as Graph serves them', async () => {
    const start = stack.graph.requestLog.length;
    assert.deepEqual(await pageSizes(options(['id', 'displayName', 'signInActivity'], withAudit)), [500, 500, 200]);
    assert.match(stack.graph.requestLog[start] ?? '', /\$select=id,displayName,signInActivity&\$top=500$/);
  });

  it('a 403 names AuditLog.Read.All (USER_FIELDS has signInActivity), the consent URL and the license it needs', async () => {
    const error = await failure(options(['id', 'signInActivity'], withoutAudit));
    assert.equal(error.code, SyncErrorCodes.graphConsentRequired);
    assert.match(
      error.message,
      /^Microsoft Graph denied GET \/users \(403 Authorization_RequestDenied\): the app needs the application permission User\.Read\.All, and AuditLog\.Read\.All to read signInActivity \(USER_FIELDS\) \(Microsoft Graph\) with admin consent\. An administrator can grant it at https:\/\/consent\.example\/adminconsent\. Reading signInActivity also needs a Microsoft Entra ID P1 or P2 license in the tenant\.$/,
    );
  });

  it('a tenant without P1 or P2: the 403 says so, and how to go on', async () => {
    stack.graph.signInActivityLicensed = false;
    try {
      const error = await failure(options(['id', 'signInActivity'], withAudit));
      assert.equal(error.code, SyncErrorCodes.graphConsentRequired);
      assert.match(
        error.message,
        /\(403 Authentication_RequestFromNonPremiumTenantOrB2CTenant\).*Graph says the tenant has no Microsoft Entra ID P1 or P2 license \(or is an Azure AD B2C tenant\), which reading signInActivity needs: license the tenant, or remove signInActivity from USER_FIELDS\.$/,
      );
    } finally {
      stack.graph.signInActivityLicensed = true;
    }
  });

  it('a 501 for a property Graph serves only for one user names USER_FIELDS and GET /users/{id}, and is not retried', async () => {
    const start = stack.graph.counters.requests;
    const error = await failure(options(['id', 'aboutMe'], withAudit));
    assert.equal(error.code, SyncErrorCodes.graphBadRequest);
    assert.equal(
      error.message,
      'Microsoft Graph cannot answer GET /users with these USER_FIELDS (501 NotImplemented: This operation target is not yet supported.): Graph returns some user properties only when reading one user (GET /users/{id}), never in a list; remove them from USER_FIELDS.',
    );
    assert.equal(stack.graph.counters.requests - start, 1, 'one request: 501 is not worth another attempt');
  });
});
