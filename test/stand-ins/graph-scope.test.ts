import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startLocalStack, type LocalStack } from '../../local/stack';
import type { SeedUser } from '../../local/stand-ins/seed';
import { appToken, walkDelta } from '../helpers/graph-delta-client';

// The Graph stand-in's user scope (issue 12): $filter on /users with Graph's advanced-query rules,
// and a group's transitive user members, over real HTTPS with a client-credentials token.

interface GraphError {
  error: { code: string; message: string };
}

interface ListPage {
  value: Record<string, unknown>[];
  '@odata.count'?: number;
  '@odata.nextLink'?: string;
}

const eventual = { consistencylevel: 'eventual' };

describe('Graph stand-in: user scope', () => {
  let stack: LocalStack;
  let token: string;
  /** A token of the app as the stack registered it: without GroupMember.Read.All. */
  let withoutGroupMemberRead: string;

  before(async () => {
    stack = await startLocalStack({ users: 0, graphAppRoles: ['User.Read.All'] });
    withoutGroupMemberRead = await appToken(stack);
    // Then granted, as an admin would, for every other test.
    stack.entra.apps.get(stack.clientId.toLowerCase())?.appRoles[stack.graph.url]?.push('GroupMember.Read.All');
    token = await appToken(stack);
  });
  after(() => stack.stop());
  beforeEach(() => {
    stack.faults.clear();
    stack.graph.faults.length = 0;
  });

  const get = (pathOrLink: string, headers: Record<string, string> = {}, bearer = token): Promise<Response> =>
    fetch(pathOrLink.startsWith('https:') ? pathOrLink : `${stack.graph.url}${pathOrLink}`, { headers: { authorization: `Bearer ${bearer}`, ...headers } });

  /** /v1.0/users with a $filter (encoded as a client would), and $count=true plus the header when `advanced`. */
  const usersQuery = (filter: string, { advanced = false, select = 'id', top = '999' } = {}): string =>
    `/v1.0/users?$select=${select}&$top=${top}&$filter=${encodeURIComponent(filter)}${advanced ? '&$count=true' : ''}`;

  async function expectError(response: Response, status: number, code: string, message?: string | RegExp): Promise<GraphError['error']> {
    const text = await response.text();
    assert.equal(response.status, status, text);
    const { error } = JSON.parse(text) as GraphError;
    assert.equal(error.code, code, error.message);
    if (typeof message === 'string') assert.equal(error.message, message);
    else if (message !== undefined) assert.match(error.message, message);
    return error;
  }

  /** Follows nextLinks with the same headers; every page must be 200. */
  async function walk(first: string, headers: Record<string, string> = {}): Promise<{ pages: ListPage[]; ids: string[] }> {
    const pages: ListPage[] = [];
    for (let next: string | undefined = first; next !== undefined;) {
      const response = await get(next, headers);
      assert.equal(response.status, 200, await response.clone().text());
      const page = (await response.json()) as ListPage;
      pages.push(page);
      next = page['@odata.nextLink'];
    }
    return { pages, ids: pages.flatMap((p) => p.value.map((u) => u['id'] as string)) };
  }

  describe('$filter on /users', () => {
    let zoe: SeedUser, sean: SeedUser, aiko: SeedUser, jose: SeedUser, bjorn: SeedUser;
    const known = (): SeedUser[] => [zoe, sean, aiko, jose, bjorn];

    beforeEach(() => {
      stack.graph.seed(0);
      zoe = stack.graph.addUser({
        displayName: 'Zoë Ångström',
        givenName: 'Zoë',
        surname: 'Ångström',
        mail: 'zoe.angstrom@contoso.com',
        userPrincipalName: 'zoe.angstrom@contoso.onmicrosoft.com',
        accountEnabled: true,
        jobTitle: 'Risk Officer',
        department: 'Risk',
        usageLocation: 'IE',
        employeeId: '100001',
        userType: 'Member',
      });
      sean = stack.graph.addUser({
        displayName: "Seán O'Brien",
        givenName: 'Seán',
        surname: "O'Brien",
        mail: null,
        userPrincipalName: 'sean.obrien@contoso.onmicrosoft.com',
        accountEnabled: false,
        jobTitle: null,
        department: 'Billing',
        usageLocation: 'PT',
        employeeId: null,
        userType: 'Member',
      });
      aiko = stack.graph.addUser({
        displayName: 'Aiko Tanaka',
        givenName: 'Aiko',
        surname: 'Tanaka',
        mail: 'aiko.tanaka@fabrikam.com',
        userPrincipalName: 'aiko.tanaka_fabrikam.com#EXT#@contoso.onmicrosoft.com',
        accountEnabled: true,
        jobTitle: 'Payments Engineer',
        department: 'Engineering',
        usageLocation: 'JP',
        employeeId: '100003',
        userType: 'Guest',
      });
      jose = stack.graph.addUser({
        displayName: 'José García Márquez',
        givenName: 'José',
        surname: 'García Márquez',
        mail: 'jose.garcia@contoso.com',
        userPrincipalName: 'jose.garcia@contoso.onmicrosoft.com',
        accountEnabled: true,
        jobTitle: 'Account Manager',
        department: 'Billing',
        usageLocation: 'IE',
        employeeId: '100004',
        mobilePhone: '+353 85 1234567',
        userType: 'Member',
      });
      bjorn = stack.graph.addUser({
        displayName: 'Björn Nordström',
        givenName: 'Björn',
        surname: 'Nordström',
        mail: 'bjorn.nordstrom@contoso.com',
        userPrincipalName: 'bjorn.nordstrom@contoso.onmicrosoft.com',
        accountEnabled: false,
        jobTitle: 'Credit Analyst',
        department: null,
        usageLocation: null,
        employeeId: '100005',
        officeLocation: '100% remote',
        userType: 'Member',
      });
    });

    async function matches(filter: string, advanced = false): Promise<string[]> {
      const response = await get(usersQuery(filter, { advanced }), advanced ? eventual : {});
      assert.equal(response.status, 200, `${filter}: ${await response.clone().text()}`);
      const page = (await response.json()) as ListPage;
      if (advanced) assert.equal(page['@odata.count'], page.value.length, `${filter}: @odata.count`);
      else assert.equal(page['@odata.count'], undefined, `${filter}: no @odata.count without $count`);
      return page.value.map((u) => u['id'] as string);
    }
    const ids = (...users: SeedUser[]): string[] => users.map((u) => u.id);

    it('eq on strings (ignoring case), booleans, null, with quotes, unicode, + and %', async () => {
      assert.deepEqual(await matches('accountEnabled eq false'), ids(sean, bjorn));
      assert.deepEqual(await matches('accountEnabled eq true'), ids(zoe, aiko, jose));
      assert.deepEqual(await matches("department eq 'BILLING'"), ids(sean, jose));
      assert.deepEqual(await matches(`userPrincipalName eq '${jose.userPrincipalName.toUpperCase()}'`), ids(jose));
      assert.deepEqual(await matches('jobTitle eq null'), ids(sean));
      assert.deepEqual(await matches("surname eq 'O''Brien'"), ids(sean));
      assert.deepEqual(await matches("displayName eq 'ZOË ÅNGSTRÖM'"), ids(zoe));
      assert.deepEqual(await matches("mobilePhone eq '+353 85 1234567'"), ids(jose));
      assert.deepEqual(await matches("officeLocation eq '100% remote'"), ids(bjorn));
      assert.deepEqual(await matches(`id eq '${aiko.id}'`), ids(aiko));
      assert.deepEqual(await matches("userType eq 'Guest'"), ids(aiko));
      assert.deepEqual(await matches("employeeId eq '100001'"), ids(zoe));
      assert.deepEqual(await matches("department eq 'Nowhere'"), []);
    });

    it('startswith and endswith ignore case; in; and, or, not, parentheses and precedence', async () => {
      assert.deepEqual(await matches("startswith(displayName,'jo')"), ids(jose));
      assert.deepEqual(await matches("startsWith(givenName,'BJÖ')"), ids(bjorn), 'function names in any case, as Graph');
      assert.deepEqual(await matches("startswith(mail,'zoe') or startswith(mail,'aiko')"), ids(zoe, aiko));
      assert.deepEqual(await matches("endswith(mail,'@CONTOSO.com')", true), ids(zoe, jose, bjorn));
      assert.deepEqual(await matches("endswith(userPrincipalName,'#EXT#@contoso.onmicrosoft.com')", true), ids(aiko));
      assert.deepEqual(await matches("department in ('Risk', 'engineering')"), ids(zoe, aiko));
      assert.deepEqual(await matches(`id in ('${zoe.id}','${bjorn.id}','${randomUUID()}')`), ids(zoe, bjorn));
      assert.deepEqual(await matches("usageLocation in ('IE', null)"), ids(zoe, jose, bjorn));
      assert.deepEqual(await matches("(department eq 'Billing' or department eq 'Risk') and accountEnabled eq true"), ids(zoe, jose));
      assert.deepEqual(await matches("department eq 'Billing' or (department eq 'Risk' and accountEnabled eq true)"), ids(zoe, sean, jose));
      // and binds tighter than or, as in Graph: (Risk and enabled) or Billing.
      assert.deepEqual(await matches("department eq 'Risk' and accountEnabled eq true or department eq 'Billing'"), ids(zoe, sean, jose));
      // The parser would read an and after an or left to right, unlike Graph: refused, asking for parentheses.
      await expectError(
        await get(usersQuery("department eq 'Billing' or department eq 'Risk' and accountEnabled eq true")),
        400,
        'Request_UnsupportedQuery',
        /add the parentheses/,
      );
      await expectError(
        await get(usersQuery("department eq 'Billing' or (department eq 'Risk' or jobTitle eq null and accountEnabled eq true)")),
        400,
        'Request_UnsupportedQuery',
        /add the parentheses/,
      );
      assert.deepEqual(await matches("(department eq 'Billing' or department eq 'Risk') and accountEnabled eq true and surname ne 'x'", true), ids(zoe, jose));
      assert.deepEqual(await matches("surname eq 'a or b and c' or department eq 'Risk'"), ids(zoe), 'and/or inside a string are text');
      assert.deepEqual(await matches("department eq 'Billing' AND accountEnabled eq false"), ids(sean), 'operators in any case');
      assert.deepEqual(await matches('accountEnabled ne true', true), ids(sean, bjorn));
      assert.deepEqual(await matches('department ne null', true), ids(zoe, sean, aiko, jose));
      assert.deepEqual(await matches("not(startswith(displayName,'a'))", true), ids(zoe, sean, jose, bjorn));
      assert.deepEqual(await matches("NOT startsWith(displayName,'A') and not(department in ('Billing'))", true), ids(zoe, bjorn));
      assert.deepEqual(await matches("not (accountEnabled eq true or userType eq 'Guest')", true), ids(sean, bjorn));
    });

    it('ne, not and endswith need ConsistencyLevel: eventual and $count=true; $count needs the header', async () => {
      const needsAdvanced = (property: string): string => `Unsupported or invalid query filter clause specified for property '${property}' of resource 'User'.`;
      for (const [filter, property] of [
        ['accountEnabled ne true', 'accountEnabled'],
        ["not(department eq 'Risk')", 'department'],
        ["endswith(mail,'@contoso.com')", 'mail'],
      ] as const) {
        await expectError(await get(usersQuery(filter)), 400, 'Request_UnsupportedQuery', needsAdvanced(property));
        await expectError(await get(usersQuery(filter), eventual), 400, 'Request_UnsupportedQuery', needsAdvanced(property));
        await expectError(await get(usersQuery(filter, { advanced: true })), 400, 'Request_BadRequest', '$count is not currently supported.');
        assert.equal((await get(usersQuery(filter, { advanced: true }), eventual)).status, 200, filter);
      }
      await expectError(await get('/v1.0/users?$select=id&$count=true'), 400, 'Request_BadRequest', '$count is not currently supported.');
      // endswith works on mail and userPrincipalName only, even in an advanced query.
      await expectError(
        await get(usersQuery("endswith(displayName,'m')", { advanced: true }), eventual),
        400,
        'Request_UnsupportedQuery',
        needsAdvanced('displayName'),
      );
      // The header alone changes nothing for a default query.
      assert.deepEqual((await walk(usersQuery('accountEnabled eq false'), eventual)).ids, ids(sean, bjorn));
    });

    it('an advanced query answers @odata.count, unfiltered too', async () => {
      const all = (await (await get('/v1.0/users?$select=id,displayName&$count=true', eventual)).json()) as ListPage;
      assert.equal(all['@odata.count'], 5);
      assert.deepEqual(
        all.value.map((u) => u['id']),
        ids(...known()),
      );
      assert.deepEqual(Object.keys(all.value[0] ?? {}), ['id', 'displayName']);
      const some = (await (await get(usersQuery("department eq 'Billing'", { advanced: true }), eventual)).json()) as ListPage;
      assert.equal(some['@odata.count'], 2);
    });

    it('unknown property, syntax errors, type mismatches and what the stand-in does not implement', async () => {
      await expectError(
        await get(usersQuery("favouriteColour eq 'blue'")),
        400,
        'Request_BadRequest',
        "Could not find a property named 'favouriteColour' on type 'microsoft.graph.user'.",
      );
      await expectError(await get(usersQuery("startswith(favouriteColour,'b')")), 400, 'Request_BadRequest', /'favouriteColour'/);
      for (const broken of [
        "startswith(displayName,'a'",
        'department eq',
        "department eq 'Risk' or",
        "displayName eq 'unterminated",
        "department eq 'Risk' department",
        '',
        'department eq )',
      ]) {
        await expectError(await get(usersQuery(broken)), 400, 'BadRequest', /^Invalid filter clause: Syntax error at position \d+ in '/);
      }
      // The position is in the filter as sent (the + took three characters in what the parser read).
      await expectError(
        await get(usersQuery("mobilePhone eq '+353' and (jobTitle eq 'a'")),
        400,
        'BadRequest',
        "Invalid filter clause: Syntax error at position 42 in 'mobilePhone eq '+353' and (jobTitle eq 'a''.",
      );
      await expectError(
        await get(usersQuery("mobilePhone eq '+353' and jobTitle eq 'a' x")),
        400,
        'BadRequest',
        "Invalid filter clause: Syntax error at position 42 in 'mobilePhone eq '+353' and jobTitle eq 'a' x'.",
      );
      await expectError(
        await get(usersQuery('employeeId eq 100001')),
        400,
        'BadRequest',
        "A binary operator with incompatible types was detected. Found operand types 'Edm.String' and 'Edm.Int32' for operator kind 'Equal'.",
      );
      await expectError(await get(usersQuery("accountEnabled eq 'yes'")), 400, 'BadRequest', /'Edm.Boolean' and 'Edm.String'/);
      for (const unsupported of [
        "contains(displayName,'a')",
        "proxyAddresses/any(p:startswith(p,'smtp'))",
        'employeeId add 1 eq 2',
        "displayName gt 'M'",
        "'Risk' eq department",
        'accountEnabled',
        'not accountEnabled eq true', // (not accountEnabled) eq true: not binds tighter than eq
        "businessPhones eq '+353'",
        "tolower(displayName) eq 'x'",
      ]) {
        await expectError(await get(usersQuery(unsupported, { advanced: true }), eventual), 400, 'Request_UnsupportedQuery', undefined);
      }
    });

    it('at most 15 values in an in, or 15 clauses in an or (Graph: Request_UnsupportedQuery)', async () => {
      const fifteen = Array.from({ length: 15 }, (_, i) => (i === 0 ? zoe.id : randomUUID()));
      const sixteen = [...fifteen, jose.id];
      assert.deepEqual(await matches(`id in (${fifteen.map((id) => `'${id}'`).join(',')})`), ids(zoe));
      assert.deepEqual(await matches(fifteen.map((id) => `id eq '${id}'`).join(' or ')), ids(zoe));
      const tooMany = (n: number): string => `Too many child clauses specified in search filter expression containing 'OR' operators: ${n}. Max allowed: 15.`;
      await expectError(await get(usersQuery(`id in (${sixteen.map((id) => `'${id}'`).join(',')})`)), 400, 'Request_UnsupportedQuery', tooMany(16));
      await expectError(await get(usersQuery(sixteen.map((id) => `id eq '${id}'`).join(' or '))), 400, 'Request_UnsupportedQuery', tooMany(16));
      // An in inside an or counts each of its values; nested ors count together.
      const half = (list: string[]): string => `id in (${list.map((id) => `'${id}'`).join(',')})`;
      await expectError(
        await get(usersQuery(`${half(sixteen.slice(0, 8))} or (${half(sixteen.slice(8, 12))} or ${half(sixteen.slice(12))})`)),
        400,
        'Request_UnsupportedQuery',
        tooMany(16),
      );
      // Two ors of 8 under an and are two groups of 8.
      assert.deepEqual(await matches(`${half(sixteen.slice(0, 8))} and (${half([zoe.id, ...sixteen.slice(9)])})`), ids(zoe));
    });

    it('the production query for joiners: $select and id in (up to 15 ids), no advanced parameters', async () => {
      const response = await get(`/v1.0/users?$select=id,displayName,mail,accountEnabled&$filter=${encodeURIComponent(`id in ('${sean.id}','${aiko.id}')`)}`);
      assert.equal(response.status, 200);
      const page = (await response.json()) as ListPage;
      assert.deepEqual(page.value, [
        { id: sean.id, displayName: sean.displayName, mail: null, accountEnabled: false },
        { id: aiko.id, displayName: aiko.displayName, mail: aiko.mail, accountEnabled: true },
      ]);
      assert.equal(page['@odata.nextLink'], undefined);
    });
  });

  describe('paging a filtered /users', () => {
    it('nextLinks carry $select, $top, $filter and $count, with an opaque $skiptoken; @odata.count on every page', async () => {
      const seeded = stack.graph.seed(2500);
      const expected = seeded.filter((u) => u.accountEnabled && u.department !== 'Risk').map((u) => u.id);
      const filter = "accountEnabled eq true and not(department eq 'Risk')";
      const issued = stack.graph.issuedNextLinks.length;
      const { pages, ids } = await walk(usersQuery(filter, { advanced: true, select: 'id,department', top: '500' }), eventual);
      assert.ok(expected.length > 1500, 'enough matches for several pages');
      assert.deepEqual(ids, expected);
      assert.deepEqual(
        pages.map((p) => p.value.length),
        [...Array<number>(Math.floor(expected.length / 500)).fill(500), expected.length % 500].filter((n) => n > 0),
      );
      for (const page of pages) assert.equal(page['@odata.count'], expected.length);
      const links = stack.graph.issuedNextLinks.slice(issued);
      assert.equal(links.length, pages.length - 1);
      for (const link of links) {
        const url = new URL(link);
        assert.equal(url.pathname, '/v1.0/users');
        assert.equal(url.searchParams.get('$select'), 'id,department');
        assert.equal(url.searchParams.get('$top'), '500');
        assert.equal(url.searchParams.get('$filter'), filter);
        assert.equal(url.searchParams.get('$count'), 'true');
        assert.match(url.searchParams.get('$skiptoken') ?? '', /^RFNwdAIAAQAAA[\w-]{20,}$/);
      }
      // A default query pages too, without @odata.count.
      const disabled = await walk(usersQuery('accountEnabled eq false'));
      assert.deepEqual(
        disabled.ids,
        seeded.filter((u) => !u.accountEnabled).map((u) => u.id),
      );
      assert.ok(disabled.pages.every((p) => !('@odata.count' in p)));
    });

    it('a nextLink of an advanced walk followed without the header gets the first request’s 400; expired tokens get 400', async () => {
      stack.graph.seed(1200);
      const first = usersQuery('accountEnabled ne false', { advanced: true });
      const response = await get(first, eventual);
      const link = ((await response.json()) as ListPage)['@odata.nextLink'];
      assert.ok(link !== undefined);
      const asFirst = await expectError(await get(first), 400, 'Request_BadRequest');
      const asNext = await expectError(await get(link), 400, 'Request_BadRequest');
      assert.equal(asNext.message, asFirst.message);
      // Without $count as well (a client that rebuilt the link): the ne clause needs the advanced parameters.
      const stripped = new URL(link);
      stripped.searchParams.delete('$count');
      await expectError(await get(stripped.href, eventual), 400, 'Request_UnsupportedQuery', /'accountEnabled'/);
      // With the header the same link works; after expireSkipTokens it does not.
      assert.equal((await get(link, eventual)).status, 200);
      stack.graph.expireSkipTokens();
      await expectError(await get(link, eventual), 400, 'Directory_ExpiredPageToken');
    });

    it('faults apply to filtered pages: an empty page keeps the walk, a 429 is answered', async () => {
      const seeded = stack.graph.seed(1500);
      stack.graph.faults.push({ emptyPage: true }, { status: 429, retryAfterSeconds: 1 });
      const throttled = stack.graph.counters.throttled;
      const response = await get(usersQuery('accountEnabled eq true'));
      const page = (await response.json()) as ListPage;
      assert.deepEqual(page.value, []);
      assert.ok(page['@odata.nextLink'] !== undefined);
      const retry = await get(page['@odata.nextLink']);
      assert.equal(retry.status, 429);
      assert.equal(retry.headers.get('retry-after'), '1');
      assert.equal(stack.graph.counters.throttled - throttled, 1);
      const rest = await walk(page['@odata.nextLink']);
      assert.deepEqual(
        rest.ids,
        seeded.filter((u) => u.accountEnabled).map((u) => u.id),
      );
    });
  });

  describe('$filter on /users/delta', () => {
    it('takes id eq clauses joined by or (at most 50) and nothing else', async () => {
      const seeded = stack.graph.seed(60);
      const [a, b, c] = seeded;
      assert.ok(a && b && c);
      const delta = (filter: string): string => `${stack.graph.url}/v1.0/users/delta?$select=id,jobTitle&$filter=${encodeURIComponent(filter)}`;
      const { pages, deltaLink } = await walkDelta(delta(`id eq '${a.id}' or id eq '${c.id}'`), token);
      assert.deepEqual(
        pages.flat().map((e) => e.id),
        [a.id, c.id],
      );
      // The deltaLink keeps the filter: changes of other users do not show.
      stack.graph.updateUser(a.id, { jobTitle: 'Filtered in' });
      stack.graph.updateUser(b.id, { jobTitle: 'Filtered out' });
      stack.graph.softDeleteUser(c.id);
      assert.deepEqual((await walkDelta(deltaLink, token)).pages.flat(), [
        { id: a.id, jobTitle: 'Filtered in' },
        { id: c.id, '@removed': { reason: 'changed' } },
      ]);

      const fifty = seeded.slice(0, 50).map((u) => `id eq '${u.id}'`);
      assert.equal((await walkDelta(delta(fifty.join(' or ')), token)).pages.flat().length, 49, 'the soft-deleted one is not listed');
      for (const refused of [
        [...fifty, `id eq '${randomUUID()}'`].join(' or '),
        `id in ('${a.id}')`,
        "displayName eq 'x'",
        `id eq '${a.id}' and id eq '${b.id}'`,
        `id ne '${a.id}'`,
      ]) {
        await expectError(await get(delta(refused)), 400, 'Request_UnsupportedQuery', /only id eq/);
      }
      await expectError(await get(delta('id eq')), 400, 'BadRequest', /^Invalid filter clause/);
    });
  });

  describe('groups: transitiveMembers/microsoft.graph.user', () => {
    const members = (groupId: string, query = '$select=id&$top=999&$count=true'): string =>
      `/v1.0/groups/${groupId}/transitiveMembers/microsoft.graph.user?${query}`;
    const listed = async (groupId: string, query?: string): Promise<string[]> => (await walk(members(groupId, query), eventual)).ids;

    it('lists users of nested groups once each, in directory order, with $select and @odata.count', async () => {
      const seeded = stack.graph.seed(10);
      const ids = seeded.map((u) => u.id);
      const { groupId, childGroupId } = stack.graph.seedGroup(ids.slice(0, 6), { nestedSplit: 4 });
      // ids[1] is in the child and directly in the parent; a grandchild group adds ids[8].
      stack.graph.addMember(groupId, ids[1] ?? '');
      const grandchild = stack.graph.addGroup({ displayName: 'Grandchild' });
      stack.graph.addMember(childGroupId, grandchild);
      stack.graph.addMember(grandchild, ids[8] ?? '');
      stack.graph.addMember(grandchild, ids[0] ?? '');
      const expected = [ids[0], ids[1], ids[2], ids[3], ids[4], ids[5], ids[8]];
      assert.deepEqual(stack.graph.transitiveUserIds(groupId), expected);
      assert.deepEqual(await listed(groupId), expected);
      assert.deepEqual(await listed(childGroupId), [ids[0], ids[1], ids[2], ids[3], ids[8]]);

      const response = await get(members(groupId, '$select=id,displayName,accountEnabled&$top=3&$count=true'), eventual);
      const page = (await response.json()) as ListPage;
      assert.equal(page['@odata.count'], 7);
      const [first] = seeded;
      assert.ok(first);
      assert.deepEqual(page.value[0], { id: first.id, displayName: first.displayName, accountEnabled: first.accountEnabled });
      assert.equal(page.value.length, 3);
      const next = new URL(page['@odata.nextLink'] ?? '');
      assert.equal(next.pathname, `/v1.0/groups/${groupId}/transitiveMembers/microsoft.graph.user`);
      assert.equal(next.searchParams.get('$count'), 'true');
      // $select=id only: membership ids.
      const idsOnly = (await (await get(members(groupId), eventual)).json()) as ListPage;
      assert.deepEqual(
        idsOnly.value,
        expected.map((id) => ({ id })),
      );
    });

    it('$filter on the members, with the same evaluator (ne allowed: it is an advanced query)', async () => {
      const seeded = stack.graph.seed(40);
      const { groupId } = stack.graph.seedGroup(seeded.slice(0, 30).map((u) => u.id));
      const enabled = seeded
        .slice(0, 30)
        .filter((u) => u.accountEnabled)
        .map((u) => u.id);
      assert.deepEqual(await listed(groupId, `$select=id&$count=true&$filter=${encodeURIComponent('accountEnabled ne false')}`), enabled);
      const billing = seeded
        .slice(0, 30)
        .filter((u) => u.department === 'Billing' || u.department === null)
        .map((u) => u.id);
      assert.deepEqual(await listed(groupId, `$select=id&$count=true&$filter=${encodeURIComponent("department in ('billing', null)")}`), billing);
      await expectError(
        await get(members(groupId, `$select=id&$count=true&$filter=${encodeURIComponent("contains(displayName,'a')")}`), eventual),
        400,
        'Request_UnsupportedQuery',
      );
      await expectError(
        await get(members(groupId, '$select=id,favouriteColour&$count=true'), eventual),
        400,
        'Request_BadRequest',
        "Could not find a property named 'favouriteColour' on type 'microsoft.graph.user'.",
      );
      await expectError(await get(members(groupId, '$select=id&$top=1000&$count=true'), eventual), 400, 'Request_UnsupportedQuery', /between 1 and 999/);
    });

    it('cycles end; removing a member takes it (and what it brought) out', async () => {
      const seeded = stack.graph.seed(5);
      const [a, b, c] = seeded.map((u) => u.id);
      assert.ok(a && b && c);
      const g1 = stack.graph.addGroup();
      const g2 = stack.graph.addGroup({ id: 'f0f0f0f0-0000-4000-8000-000000000002', displayName: 'Second' });
      assert.equal(g2, 'f0f0f0f0-0000-4000-8000-000000000002');
      stack.graph.addMember(g1, g2);
      stack.graph.addMember(g2, g1);
      stack.graph.addMember(g1, g1);
      stack.graph.addMember(g2, b);
      stack.graph.addMember(g1, a);
      assert.deepEqual(await listed(g1), [a, b]);
      assert.deepEqual(await listed(g2), [a, b]);
      stack.graph.removeMember(g2, g1);
      assert.deepEqual(await listed(g2), [b]);
      stack.graph.removeMember(g1, a);
      assert.deepEqual(await listed(g1), [b]);
      assert.throws(() => stack.graph.removeMember(g1, a), /not a direct member/);
      assert.throws(() => stack.graph.addMember(g1, randomUUID()), /No active user or group/);
      assert.throws(() => stack.graph.addMember(randomUUID(), c), /No group/);
      assert.throws(() => stack.graph.addMember(g1, g2), /already/);
    });

    it('deleted users are not listed; a restored one is again; membership never shows in /users/delta', async () => {
      const seeded = stack.graph.seed(6);
      const ids = seeded.map((u) => u.id);
      const [a, b, c, d] = ids;
      assert.ok(a && b && c && d);
      const { groupId } = stack.graph.seedGroup([a, b, c], { nestedSplit: 2 });
      const { deltaLink } = await walkDelta(`${stack.graph.url}/v1.0/users/delta?$select=id,displayName`, token);
      stack.graph.softDeleteUser(a);
      stack.graph.hardDeleteUser(b);
      assert.deepEqual(await listed(groupId), [c]);
      assert.throws(() => stack.graph.addMember(groupId, a), /No active user or group/, 'a soft-deleted user cannot join');
      stack.graph.restoreUser(a);
      assert.deepEqual(await listed(groupId), [a, c]);
      assert.deepEqual(stack.graph.transitiveUserIds(groupId), [a, c]);
      assert.throws(() => stack.graph.addMember(groupId, b), /No active user or group/, 'a user deleted for good cannot join');

      // Group changes only: the deltaLink gives the deletion and restore of a, the deletion of b, and nothing for membership.
      const change = await walkDelta(deltaLink, token);
      const afterChanges = change.deltaLink;
      assert.deepEqual(
        change.pages
          .flat()
          .map((e) => e.id)
          .sort(),
        [a, b].sort(),
      );
      stack.graph.addMember(groupId, d);
      stack.graph.removeMember(groupId, c);
      const other = stack.graph.addGroup();
      stack.graph.addMember(other, a);
      assert.deepEqual((await walkDelta(afterChanges, token)).pages.flat(), []);
      assert.deepEqual(await listed(groupId), [a, d]);
    });

    it('needs the advanced query parameters; 404 for an unknown group', async () => {
      stack.graph.seed(3);
      const { groupId } = stack.graph.seedGroup(stack.graph.users.map((u) => u.id));
      for (const [query, headers] of [
        ['$select=id', eventual],
        ['$select=id&$count=true', {}],
        ['$select=id', {}],
      ] as const) {
        await expectError(await get(members(groupId, query), headers), 400, 'Request_UnsupportedQuery', /advanced query/);
      }
      const unknown = randomUUID();
      await expectError(
        await get(members(unknown), eventual),
        404,
        'Request_ResourceNotFound',
        `Resource '${unknown}' does not exist or one of its queried reference-property objects are not present.`,
      );
      // A user is not a group either.
      await expectError(await get(members(stack.graph.users[0]?.id ?? ''), eventual), 404, 'Request_ResourceNotFound');
    });

    it('needs GroupMember.Read.All (or a wider group permission); /users still needs User.Read.All', async () => {
      stack.graph.seed(3);
      const { groupId } = stack.graph.seedGroup(stack.graph.users.map((u) => u.id));
      const app = stack.entra.apps.get(stack.clientId.toLowerCase());
      assert.ok(app);
      const roles = app.appRoles[stack.graph.url] ?? [];
      assert.deepEqual(roles, ['User.Read.All', 'GroupMember.Read.All']);
      try {
        for (const [granted, usersStatus, membersStatus] of [
          [['User.Read.All'], 200, 403],
          [['GroupMember.Read.All'], 403, 200],
          [['Group.Read.All', 'User.ReadWrite.All'], 200, 200],
          [['Directory.Read.All'], 200, 200],
        ] as const) {
          app.appRoles[stack.graph.url] = [...granted];
          const scoped = await appToken(stack);
          assert.equal((await get('/v1.0/users?$select=id', {}, scoped)).status, usersStatus, `/users with ${granted.join(', ')}`);
          const response = await get(members(groupId), eventual, scoped);
          if (membersStatus === 200) assert.equal(response.status, 200, `members with ${granted.join(', ')}`);
          else await expectError(response, 403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
        }
      } finally {
        app.appRoles[stack.graph.url] = roles;
      }
    });

    it('a stack registered without GroupMember.Read.All (graphAppRoles) gets the 403', async () => {
      stack.graph.seed(4);
      const { groupId } = stack.graph.seedGroup(stack.graph.users.map((u) => u.id));
      const claims = JSON.parse(Buffer.from(withoutGroupMemberRead.split('.')[1] ?? '', 'base64url').toString('utf8')) as { roles?: string[] };
      assert.deepEqual(claims.roles, ['User.Read.All']);
      assert.equal((await get('/v1.0/users?$select=id', {}, withoutGroupMemberRead)).status, 200);
      await expectError(await get(members(groupId), eventual, withoutGroupMemberRead), 403, 'Authorization_RequestDenied');
    });

    it('pages 2,500 members with opaque skip tokens that expire, through faults', async () => {
      const seeded = stack.graph.seed(2600);
      const scope = seeded.slice(0, 2500).map((u) => u.id);
      const { groupId, childGroupId } = stack.graph.seedGroup(scope, { nestedSplit: 1000 });
      // 200 of the child's users are also direct members of the parent: still listed once.
      for (const id of scope.slice(0, 200)) stack.graph.addMember(groupId, id);
      assert.deepEqual(stack.graph.transitiveUserIds(childGroupId), scope.slice(0, 1000));

      const pageRequests = stack.graph.counters.pageRequests;
      stack.graph.faults.push({ status: 503 });
      await expectError(await get(members(groupId), eventual), 503, 'ServiceUnavailable');
      const { pages, ids } = await walk(members(groupId), eventual);
      assert.equal(stack.graph.counters.pageRequests - pageRequests, 4, 'group pages are page requests (the faulted one too)');
      assert.deepEqual(
        pages.map((p) => p.value.length),
        [999, 999, 502],
      );
      assert.ok(pages.every((p) => p['@odata.count'] === 2500));
      assert.deepEqual(ids, scope);
      for (const page of pages.slice(0, -1))
        assert.match(new URL(page['@odata.nextLink'] ?? '').searchParams.get('$skiptoken') ?? '', /^RFNwdAIAAQAAA[\w-]{20,}$/);

      const firstPage = (await (await get(members(groupId), eventual)).json()) as ListPage;
      stack.graph.expireSkipTokens();
      await expectError(await get(firstPage['@odata.nextLink'] ?? '', eventual), 400, 'Directory_ExpiredPageToken');
    });

    it('lists a 100,000-member group (nested) completely', async () => {
      const seeded = stack.graph.seed(100_000);
      const all = seeded.map((u) => u.id);
      const { groupId, childGroupId } = stack.graph.seedGroup(all, { nestedSplit: 40_000 });
      stack.graph.addMember(childGroupId, groupId); // a cycle through the whole group
      const { pages, ids } = await walk(members(groupId), eventual);
      assert.equal(pages.length, Math.ceil(100_000 / 999));
      assert.ok(pages.every((p) => p['@odata.count'] === 100_000));
      assert.equal(ids.length, 100_000);
      assert.deepEqual(ids, all);
    });
  });

  describe('usersPageCap: pages smaller than $top asks, as Graph may serve them', () => {
    after(() => {
      stack.graph.usersPageCap = undefined;
    });

    it('caps the plain walk, a counted listing and delta, and the nextLink keeps the $top asked for', async () => {
      const all = stack.graph.seed(250).map((u) => u.id);
      stack.graph.usersPageCap = 100;
      const plain = await walk('/v1.0/users?$select=id&$top=999');
      assert.deepEqual(
        plain.pages.map((p) => p.value.length),
        [100, 100, 50],
      );
      assert.deepEqual(plain.ids, all);
      assert.equal(new URL(plain.pages[0]?.['@odata.nextLink'] ?? '').searchParams.get('$top'), '999');
      const counted = await walk('/v1.0/users?$select=id&$top=999&$count=true', eventual);
      assert.deepEqual(
        counted.pages.map((p) => [p.value.length, p['@odata.count']]),
        [
          [100, 250],
          [100, 250],
          [50, 250],
        ],
      );
      const delta = await walkDelta(`${stack.graph.url}/v1.0/users/delta?$select=id`, token);
      assert.deepEqual(
        delta.pages.map((p) => p.length),
        [100, 100, 50],
      );
      // Smaller than the cap: what was asked for.
      stack.graph.usersPageCap = 999;
      assert.deepEqual(
        (await walk('/v1.0/users?$select=id&$top=120')).pages.map((p) => p.value.length),
        [120, 120, 10],
      );
    });
  });
});
