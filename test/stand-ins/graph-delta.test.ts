import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startLocalStack, type LocalStack } from '../../local/stack';
import type { SeedUser } from '../../local/stand-ins/seed';
import { appToken, getDelta, setProperties, walkDelta, type DeltaEntry, type DeltaPage } from '../helpers/graph-delta-client';

// GET /v1.0/users/delta on the Graph stand-in, over real HTTPS with a client-credentials token from the Entra stand-in.
interface GraphError {
  error: { code: string; message: string };
}

const select = 'id,displayName,mail,jobTitle,department';
/** Delta ignores $top: a client asks for smaller pages with this preference. */
const pagesOf3 = 'odata.maxpagesize=3';

describe('Graph users delta', () => {
  let stack: LocalStack;
  let token: string;

  before(async () => {
    stack = await startLocalStack({ users: 0 });
    token = await appToken(stack);
  });
  after(() => stack.stop());
  beforeEach(() => {
    stack.faults.clear();
    stack.graph.seed(7);
  });

  const get = (link: string, prefer?: string): Promise<Response> => getDelta(link, token, prefer);
  const start = (query = `$select=${select}`): string => `${stack.graph.url}/v1.0/users/delta?${query}`;

  const walk = (link: string, prefer?: string): Promise<{ pages: DeltaEntry[][]; deltaLink: string }> => walkDelta(link, token, prefer);
  /** Every selected property that is set, and id (Graph leaves out the null ones). */
  const full = (user: SeedUser): Record<string, unknown> => setProperties(user, select);
  const byId = (entries: DeltaEntry[]): DeltaEntry[] => [...entries].sort((a, b) => a.id.localeCompare(b.id));

  it('the first walk gives every user in pages, with opaque tokens, ending in a deltaLink', async () => {
    stack.graph.updateUser(stack.graph.users[1]?.id ?? '', { mail: null, jobTitle: null });
    const users = stack.graph.users;
    const { pages, deltaLink } = await walk(start(), pagesOf3);
    assert.deepEqual(
      pages.map((p) => p.length),
      [3, 3, 1],
    );
    assert.deepEqual(pages.flat(), users.map(full));
    assert.deepEqual(Object.keys(pages[0]?.[1] ?? {}).sort(), Object.keys(full(users[1] as SeedUser)).sort(), 'unset properties are left out');
    assert.ok(!('mail' in (pages[0]?.[1] ?? {})));
    assert.match(stack.graph.issuedNextLinks.at(-1) ?? '', /\/v1\.0\/users\/delta\?\$skiptoken=[\w-]{20,}$/);
    assert.match(deltaLink, /\/v1\.0\/users\/delta\?\$deltatoken=[\w-]{20,}$/);
    // Nothing changed: the deltaLink gives no users, and a new deltaLink.
    const again = await walk(deltaLink);
    assert.deepEqual(again.pages, [[]]);
    assert.notEqual(again.deltaLink, deltaLink);
  });

  it('id is always returned, and the default selection applies without $select', async () => {
    const { pages } = await walk(start('$select=displayName'));
    assert.deepEqual(
      pages.flat(),
      stack.graph.users.map((u) => ({ displayName: u.displayName, id: u.id })),
    );
    const defaults = (await walk(start(''))).pages.flat();
    assert.equal(defaults.length, 7);
    assert.equal(defaults[0]?.userPrincipalName, stack.graph.users[0]?.userPrincipalName);
  });

  it('a deltaLink gives exactly the changes since it was issued, with all selected properties', async () => {
    const { deltaLink } = await walk(start());
    const [a, b, c, d, e, f] = stack.graph.users;
    assert.ok(a && b && c && d && e && f);
    const added = stack.graph.addUser({ jobTitle: 'Treasurer', department: null });
    stack.graph.updateUser(a.id, { jobTitle: 'Head of Risk' });
    stack.graph.updateUser(b.id, { mobilePhone: '+353 85 1234567', usageLocation: 'PT' }); // unselected only
    stack.graph.updateUser(c.id, { displayName: c.displayName }); // no change at all
    stack.graph.softDeleteUser(d.id);
    stack.graph.hardDeleteUser(e.id);
    stack.graph.softDeleteUser(f.id);
    stack.graph.hardDeleteUser(f.id);

    const { pages, deltaLink: next } = await walk(deltaLink);
    const updatedA = stack.graph.users.find((u) => u.id === a.id);
    assert.ok(updatedA);
    assert.deepEqual(
      byId(pages.flat()),
      byId([
        { ...full(added), id: added.id },
        { ...full(updatedA), id: a.id },
        { id: d.id, '@removed': { reason: 'changed' } },
        { id: e.id, '@removed': { reason: 'deleted' } },
        { id: f.id, '@removed': { reason: 'deleted' } },
      ]),
    );
    assert.equal(pages.flat().find((x) => x.id === added.id)?.department, undefined, 'a null property is left out');

    // Restoring the soft-deleted user brings it back whole, and only it.
    stack.graph.restoreUser(d.id);
    const restored = await walk(next);
    assert.deepEqual(restored.pages.flat(), [full(d)]);
    // The soft-deleted user can still be hard-deleted after a restore and a second soft delete.
    stack.graph.softDeleteUser(d.id);
    stack.graph.hardDeleteUser(d.id);
    assert.deepEqual((await walk(restored.deltaLink)).pages.flat(), [{ id: d.id, '@removed': { reason: 'deleted' } }]);
  });

  it('Prefer: return=minimal gives only the changed selected properties (and id)', async () => {
    const { deltaLink } = await walk(start());
    const [a, b] = stack.graph.users;
    assert.ok(a && b);
    stack.graph.updateUser(a.id, { jobTitle: 'Head of Risk', mobilePhone: '+353 85 7654321' });
    stack.graph.updateUser(b.id, { department: 'Billing-2', displayName: 'Zoë Renamed' });
    const response = await get(deltaLink, 'return=minimal');
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('preference-applied'), 'return=minimal');
    const page = (await response.json()) as DeltaPage;
    assert.deepEqual(page.value, [
      { jobTitle: 'Head of Risk', id: a.id },
      { displayName: 'Zoë Renamed', department: 'Billing-2', id: b.id },
    ]);
    // Without the header the same kind of change comes back whole.
    stack.graph.updateUser(a.id, { jobTitle: 'Chief Risk Officer' });
    const whole = await walk(page['@odata.deltaLink'] ?? '');
    assert.deepEqual(whole.pages.flat(), [full({ ...a, jobTitle: 'Chief Risk Officer' })]);
  });

  it('$deltatoken=latest gives no users and a deltaLink that sees later changes only', async () => {
    stack.graph.updateUser(stack.graph.users[0]?.id ?? '', { jobTitle: 'Before the link' });
    const { pages, deltaLink } = await walk(start(`$select=${select}&$deltatoken=latest`));
    assert.deepEqual(pages, [[]]);
    const added = stack.graph.addUser();
    assert.deepEqual((await walk(deltaLink)).pages.flat(), [full(added)]);
  });

  it('a delta walk pages its changes and the deltaLink after it starts from where the walk began', async () => {
    const { deltaLink } = await walk(start(), pagesOf3);
    const added = [1, 2, 3, 4, 5].map(() => stack.graph.addUser());
    const { pages, deltaLink: next } = await walk(deltaLink, pagesOf3);
    assert.deepEqual(
      pages.map((p) => p.length),
      [3, 2],
    );
    assert.deepEqual(
      pages.flat().map((x) => x.id),
      added.map((u) => u.id),
    );
    assert.deepEqual((await walk(next)).pages, [[]]);
  });

  it('$top is ignored on delta: not checked, not used (the default page is 200)', async () => {
    for (const top of ['2', '5000', '0', 'x']) {
      const { pages } = await walk(start(`$select=${select}&$top=${top}`));
      assert.deepEqual(
        pages.map((p) => p.length),
        [7],
        `$top=${top}`,
      );
    }
    // /users is unchanged: its $top is still checked.
    const users = await get(`${stack.graph.url}/v1.0/users?$select=id&$top=5000`);
    assert.equal(users.status, 400);
    assert.equal(((await users.json()) as GraphError).error.code, 'Request_UnsupportedQuery');
  });

  it('the default delta page size is 200, and odata.maxpagesize above 200 gets 200', async () => {
    stack.graph.seed(450);
    for (const prefer of [undefined, 'odata.maxpagesize=500', 'odata.maxpagesize=200', 'odata.maxpagesize=0', 'odata.maxpagesize=abc']) {
      const { pages } = await walk(start(), prefer);
      assert.deepEqual(
        pages.map((p) => p.length),
        [200, 200, 50],
        prefer,
      );
    }
    const first = async (prefer?: string): Promise<string | null> => {
      const response = await get(start(), prefer);
      await response.body?.cancel();
      return response.headers.get('preference-applied');
    };
    assert.equal(await first(), null, 'nothing asked, nothing applied');
    assert.equal(await first('odata.maxpagesize=500'), 'odata.maxpagesize=200', 'capped: the size in use');
    assert.equal(await first('odata.maxpagesize=0'), null, 'not a page size: ignored');
  });

  it('Preference-Applied names the page size on every page that has it, with return=minimal when both apply', async () => {
    const pageOf = async (link: string, prefer?: string): Promise<{ applied: string | null; page: DeltaPage }> => {
      const response = await get(link, prefer);
      assert.equal(response.status, 200);
      return { applied: response.headers.get('preference-applied'), page: (await response.json()) as DeltaPage };
    };
    const first = await pageOf(start(), pagesOf3);
    assert.equal(first.applied, 'odata.maxpagesize=3');
    const second = await pageOf(first.page['@odata.nextLink'] ?? '', 'Odata.MaxPageSize="3"');
    assert.equal(second.applied, 'odata.maxpagesize=3', 'a name in any case, a quoted value');
    const third = await pageOf(second.page['@odata.nextLink'] ?? '');
    assert.equal(third.applied, null, 'not asked for on this request');
    const deltaLink = third.page['@odata.deltaLink'] ?? '';
    assert.notEqual(deltaLink, '');

    const [a] = stack.graph.users;
    assert.ok(a);
    stack.graph.updateUser(a.id, { jobTitle: 'Head of Risk' });
    const both = await pageOf(deltaLink, `return=minimal, ${pagesOf3}`);
    assert.equal(both.applied, 'return=minimal, odata.maxpagesize=3');
    assert.deepEqual(both.page.value, [{ jobTitle: 'Head of Risk', id: a.id }]);
  });

  it('the request that starts a walk fixes its page size: a nextLink request cannot change it', async () => {
    const { deltaLink } = await walk(start());
    const added = Array.from({ length: 8 }, () => stack.graph.addUser());
    const first = await get(deltaLink, pagesOf3);
    const page = (await first.json()) as DeltaPage;
    assert.equal(page.value.length, 3);
    const rest = await walk(page['@odata.nextLink'] ?? '', 'odata.maxpagesize=1');
    assert.deepEqual(
      rest.pages.map((p) => p.length),
      [3, 2],
      'still pages of 3',
    );
    assert.deepEqual(
      [...page.value, ...rest.pages.flat()].map((x) => x.id),
      added.map((u) => u.id),
    );
    // The next deltaLink walk takes its own request's preference (none: 200), not the last walk's.
    for (const user of added.slice(0, 4)) stack.graph.updateUser(user.id, { jobTitle: 'Treasurer' });
    assert.deepEqual(
      (await walk(rest.deltaLink)).pages.map((p) => p.length),
      [4],
    );
  });

  it('an expired or unknown delta token is 400 syncStateNotFound in Graph error shape', async () => {
    const { deltaLink } = await walk(start());
    stack.graph.expireDeltaTokens();
    for (const link of [deltaLink, start('$deltatoken=bm90LWEtdG9rZW4')]) {
      const response = await get(link);
      assert.equal(response.status, 400);
      const body = (await response.json()) as GraphError & { error: { innerError: { 'request-id': string } } };
      assert.equal(body.error.code, 'syncStateNotFound');
      assert.ok(body.error.innerError['request-id']);
    }
    // A new walk works again.
    assert.equal((await walk(start())).pages.flat().length, 7);
  });

  it('resetSync: the next deltaLink request is 410 Gone with a Location to a full walk, once', async () => {
    const { deltaLink } = await walk(start());
    stack.graph.resetSync();
    const gone = await get(deltaLink);
    assert.equal(gone.status, 410);
    const location = gone.headers.get('location') ?? '';
    assert.equal(location, `${stack.graph.url}/v1.0/users/delta?$select=${select}&$deltatoken=`);
    await gone.body?.cancel();
    const resync = await walk(location);
    assert.equal(resync.pages.flat().length, 7, 'the Location gives a full walk');
    assert.equal((await get(deltaLink)).status, 200, 'the reset answers one request');
  });

  it('/users lists the current directory: soft- and hard-deleted users left out, added and restored ones in', async () => {
    const [a, b] = stack.graph.users;
    assert.ok(a && b);
    stack.graph.softDeleteUser(a.id);
    stack.graph.hardDeleteUser(b.id);
    const added = stack.graph.addUser();
    const list = async (): Promise<string[]> => {
      const response = await get(`${stack.graph.url}/v1.0/users?$select=id&$top=999`);
      assert.equal(response.status, 200);
      return ((await response.json()) as DeltaPage).value.map((u) => u.id);
    };
    let ids = await list();
    assert.equal(ids.length, 6);
    assert.ok(!ids.includes(a.id) && !ids.includes(b.id) && ids.includes(added.id));
    stack.graph.restoreUser(a.id);
    ids = await list();
    assert.ok(ids.includes(a.id));
    assert.throws(() => stack.graph.restoreUser(b.id), /No soft-deleted user/);
  });

  it('the fault plan applies to delta page requests as to /users pages', async () => {
    stack.faults.arm('graph-429@2');
    const first = await get(start(), pagesOf3);
    const next = ((await first.json()) as DeltaPage)['@odata.nextLink'] ?? '';
    const throttled = await get(next);
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers.get('retry-after'), '1');
    await throttled.body?.cancel();
    const retried = await get(next);
    assert.equal(retried.status, 200);
    assert.deepEqual(
      ((await retried.json()) as DeltaPage).value.map((u) => u.id),
      stack.graph.users.slice(3, 6).map((u) => u.id),
    );
  });

  it('needs a valid token, like /users', async () => {
    const response = await fetch(start(), { headers: { authorization: 'Bearer not.a.token' } });
    assert.equal(response.status, 401);
    assert.equal(((await response.json()) as GraphError).error.code, 'InvalidAuthenticationToken');
  });
});
