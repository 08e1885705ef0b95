import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startLocalStack, type LocalStack } from '../../local/stack';
import type { SeedUser } from '../../local/stand-ins/seed';
import { appToken, walkDelta } from '../helpers/graph-delta-client';

// The Graph stand-in answers the properties a list of users cannot serve as Graph does (issue 22,
// section 2), over real HTTPS with a client-credentials token: the single-user properties with
// 501 NotImplemented (user-list.md), signInActivity with its permission, license and $top of 500,
// and /users/delta refusing signInActivity and not tracking licenseAssignmentStates.

interface GraphError {
  error: { code: string; message: string; innerError: { date: string; 'request-id': string; 'client-request-id': string } };
}

interface ListPage {
  value: Record<string, unknown>[];
  '@odata.nextLink'?: string;
}

const singleUser = [
  'aboutMe',
  'birthday',
  'hireDate',
  'interests',
  'mySite',
  'pastProjects',
  'preferredName',
  'responsibilities',
  'schools',
  'skills',
  'mailboxSettings',
];

describe('Graph stand-in: properties a list cannot serve', () => {
  let stack: LocalStack;
  /** Default roles (User.Read.All, GroupMember.Read.All): no AuditLog.Read.All. */
  let token: string;
  /** Then AuditLog.Read.All granted, as an administrator would. */
  let auditToken: string;
  let groupId: string;

  before(async () => {
    stack = await startLocalStack({ users: 0 });
    token = await appToken(stack);
    stack.entra.apps.get(stack.clientId.toLowerCase())?.appRoles[stack.graph.url]?.push('AuditLog.Read.All');
    auditToken = await appToken(stack);
  });
  after(() => stack.stop());
  beforeEach(() => {
    stack.graph.seed(12);
    stack.graph.signInActivityLicensed = true;
    groupId = stack.graph.addGroup();
    for (const user of stack.graph.users.slice(0, 3)) stack.graph.addMember(groupId, user.id);
  });

  const get = (pathOrLink: string, bearer = token, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(pathOrLink.startsWith('https:') ? pathOrLink : `${stack.graph.url}${pathOrLink}`, { headers: { authorization: `Bearer ${bearer}`, ...headers } });

  async function expectError(response: Response, status: number, code: string, message: string): Promise<void> {
    const text = await response.text();
    assert.equal(response.status, status, text);
    const { error } = JSON.parse(text) as GraphError;
    assert.deepEqual([error.code, error.message], [code, message]);
    assert.match(error.innerError['request-id'], /^[0-9a-f-]{36}$/, "Graph's error shape, innerError included");
    assert.match(error.innerError.date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
  }

  const notImplemented = (response: Response): Promise<void> => expectError(response, 501, 'NotImplemented', 'This operation target is not yet supported.');

  describe('properties Graph returns only for GET /users/{id}', () => {
    for (const property of singleUser) {
      it(`$select=id,${property} on /users is 501 NotImplemented, not a page of nulls`, async () => {
        await notImplemented(await get(`/v1.0/users?$select=id,${property}&$top=999`));
      });
    }

    it('in any case, on /users/delta, a filtered or counted /users and a group’s transitive members too', async () => {
      await notImplemented(await get('/v1.0/users?$select=id,Skills'));
      await notImplemented(await get('/v1.0/users/delta?$select=id,aboutMe'));
      await notImplemented(await get(`/v1.0/users?$select=id,hireDate&$filter=${encodeURIComponent('accountEnabled eq true')}`));
      await notImplemented(await get('/v1.0/users?$select=id,mySite&$count=true', token, { consistencylevel: 'eventual' }));
      await notImplemented(
        await get(`/v1.0/groups/${groupId}/transitiveMembers/microsoft.graph.user?$select=id,schools&$count=true`, token, { consistencylevel: 'eventual' }),
      );
    });

    it('a property a list does serve still comes in the page', async () => {
      const response = await get('/v1.0/users?$select=id,proxyAddresses,licenseAssignmentStates&$top=999');
      assert.equal(response.status, 200, await response.clone().text());
      const page = (await response.json()) as ListPage;
      assert.equal(page.value.length, 12);
      assert.deepEqual(Object.keys(page.value[0] ?? {}), ['id', 'proxyAddresses', 'licenseAssignmentStates']);
    });
  });

  describe('signInActivity', () => {
    const activity = { lastSignInDateTime: '2025-05-04T15:35:02Z', lastSignInRequestId: 'c7df2760-2c81-4ef7-b578-5b5392b571df' };

    it('needs AuditLog.Read.All: 403 Authorization_RequestDenied without it, on /users and on a group’s members', async () => {
      await expectError(
        await get('/v1.0/users?$select=id,signInActivity&$top=500'),
        403,
        'Authorization_RequestDenied',
        'Insufficient privileges to complete the operation.',
      );
      await expectError(
        await get(`/v1.0/groups/${groupId}/transitiveMembers/microsoft.graph.user?$select=id,signInActivity&$top=500&$count=true`, token, {
          consistencylevel: 'eventual',
        }),
        403,
        'Authorization_RequestDenied',
        'Insufficient privileges to complete the operation.',
      );
    });

    it('caps $top at 500 (999 is refused), and pages of 500 carry it: null for a user who never signed in', async () => {
      await expectError(
        await get('/v1.0/users?$select=id,signInActivity&$top=999', auditToken),
        400,
        'BadRequest',
        'Cannot query data for more than 500 users at a time.',
      );
      await expectError(
        await get('/v1.0/users?$select=id,signInActivity&$top=501', auditToken),
        400,
        'BadRequest',
        'Cannot query data for more than 500 users at a time.',
      );
      const signedIn = stack.graph.users[4] as SeedUser;
      (signedIn as unknown as Record<string, unknown>)['signInActivity'] = activity;
      const response = await get('/v1.0/users?$select=id,signInActivity&$top=500', auditToken);
      assert.equal(response.status, 200, await response.clone().text());
      const { value } = (await response.json()) as ListPage;
      assert.deepEqual(
        value.filter((u) => u['signInActivity'] !== null),
        [{ id: signedIn.id, signInActivity: activity }],
      );
      assert.equal((await get('/v1.0/users?$select=id,displayName&$top=999', auditToken)).status, 200, 'without signInActivity 999 stays the limit');
    });

    it('a tenant without a P1 or P2 license: 403 Authentication_RequestFromNonPremiumTenantOrB2CTenant', async () => {
      stack.graph.signInActivityLicensed = false;
      await expectError(
        await get('/v1.0/users?$select=id,signInActivity&$top=500', auditToken),
        403,
        'Authentication_RequestFromNonPremiumTenantOrB2CTenant',
        "Neither tenant is B2C or tenant doesn't have premium license",
      );
    });

    it('/users/delta refuses it in $select: 400 BadRequest, whatever the permissions', async () => {
      for (const bearer of [token, auditToken])
        await expectError(
          await get('/v1.0/users/delta?$select=id,signInActivity', bearer),
          400,
          'BadRequest',
          'Invalid request for delta query: for this entity set, $expand/$select is not supported for the following properties: signInActivity',
        );
    });
  });

  describe('licenseAssignmentStates in delta', () => {
    const licenses = (sku: string): Record<string, unknown>[] => [{ skuId: sku, state: 'Active', assignedByGroup: null, disabledPlans: [], error: 'None' }];

    it('a change to it alone never surfaces the user; with another selected change, the user comes with its current value', async () => {
      const select = 'id,displayName,licenseAssignmentStates';
      const [first, second] = stack.graph.users as SeedUser[];
      assert.ok(first !== undefined && second !== undefined);
      const { deltaLink } = await walkDelta(`${stack.graph.url}/v1.0/users/delta?$select=${select}`, token);
      stack.graph.updateUser(first.id, { licenseAssignmentStates: licenses('sku-a') } as Partial<SeedUser>);
      const quiet = await walkDelta(deltaLink, token);
      assert.deepEqual(quiet.pages.flat(), [], 'user-delta.md: changes to licenseAssignmentStates are not tracked');
      stack.graph.updateUser(second.id, { licenseAssignmentStates: licenses('sku-b'), displayName: 'Renamed' } as Partial<SeedUser>);
      const changed = await walkDelta(quiet.deltaLink, token);
      assert.deepEqual(changed.pages.flat(), [{ id: second.id, displayName: 'Renamed', licenseAssignmentStates: licenses('sku-b') }]);
    });
  });
});
