import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { partitionFilters } from '../../shared/internal';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { appToken } from '../helpers/graph-delta-client';

// The Graph stand-in's answers to GRAPH_PARALLEL_READS' ranges (`userPrincipalName ge/le`, issue
// 22 §1), over real HTTPS with a client-credentials token: @odata.count on every advanced query
// with $count=true, and the three ways Graph may take the range filter: honoured, refused
// (400 Request_UnsupportedQuery) or ignored (every range lists every user).

interface ListPage {
  value: Record<string, unknown>[];
  '@odata.count'?: number;
  '@odata.nextLink'?: string;
}

const eventual = { consistencylevel: 'eventual' };

describe('Graph stand-in: userPrincipalName ranges', () => {
  let stack: LocalStack;
  let token: string;

  before(async () => {
    stack = await startLocalStack({ users: 0 });
    token = await appToken(stack);
  });
  after(() => stack.stop());
  beforeEach(() => {
    stack.graph.principalNameRanges = 'honoured';
    stack.graph.beforePage = undefined;
  });

  const get = (pathOrLink: string, headers: Record<string, string> = eventual): Promise<Response> =>
    fetch(pathOrLink.startsWith('https:') ? pathOrLink : `${stack.graph.url}${pathOrLink}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
  const range = (filter: string, top = 999): string => `/v1.0/users?$select=id,userPrincipalName&$top=${top}&$filter=${encodeURIComponent(filter)}&$count=true`;

  /** Every page of a listing; the first page's @odata.count. */
  async function walk(first: string): Promise<{ ids: string[]; names: string[]; counts: (number | undefined)[] }> {
    const ids: string[] = [];
    const names: string[] = [];
    const counts: (number | undefined)[] = [];
    for (let next: string | undefined = first; next !== undefined;) {
      const response = await get(next);
      assert.equal(response.status, 200, await response.clone().text());
      const page = (await response.json()) as ListPage;
      counts.push(page['@odata.count']);
      for (const user of page.value) {
        ids.push(String(user['id']));
        names.push(String(user['userPrincipalName']));
      }
      next = page['@odata.nextLink'];
    }
    return { ids, names, counts };
  }

  it('serves @odata.count on each page of an advanced query with $count=true, the whole count of the query, and none without $count', async () => {
    stack.graph.seed(1200);
    const all = await walk('/v1.0/users?$select=id&$top=500&$count=true');
    assert.deepEqual(all.counts, [1200, 1200, 1200]);
    assert.equal(all.ids.length, 1200);
    const plain = (await (await get('/v1.0/users?$select=id&$top=5', {})).json()) as ListPage;
    assert.equal(plain['@odata.count'], undefined);
  });

  it('honoured: the 37 ranges hold every user once, and their counts add up to the tenant count', async () => {
    stack.graph.seed(900);
    for (const name of ['_svc', 'Zed', '9lives', 'émile']) stack.graph.addUser({ userPrincipalName: `${name}@contoso.example` });
    const seen: string[] = [];
    let sum = 0;
    for (const filter of partitionFilters()) {
      const { ids, counts } = await walk(range(filter));
      seen.push(...ids);
      sum += counts[0] ?? 0;
    }
    assert.equal(sum, 904);
    assert.deepEqual(seen.sort(), stack.graph.users.map((u) => u.id).sort());
  });

  it('refused: a range filter gets 400 Request_UnsupportedQuery, as Graph answers a clause it does not support', async () => {
    stack.graph.seed(10);
    stack.graph.principalNameRanges = 'refused';
    const response = await get(range("userPrincipalName ge 'a' and userPrincipalName le 'b'"));
    assert.equal(response.status, 400);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, 'Request_UnsupportedQuery');
    assert.equal(error.message, "Unsupported or invalid query filter clause specified for property 'userPrincipalName' of resource 'User'.");
    // Other filters are answered as before.
    assert.equal((await get(range('accountEnabled eq true'))).status, 200);
  });

  it('ignored: every range lists every user (the rest of the filter still applies), and counts them all', async () => {
    const seeded = stack.graph.seed(300);
    stack.graph.principalNameRanges = 'ignored';
    const { ids, counts } = await walk(range("userPrincipalName ge 'q' and userPrincipalName le 'r'", 200));
    assert.deepEqual(ids.sort(), seeded.map((u) => u.id).sort());
    assert.deepEqual(counts, [300, 300]);
    const enabled = seeded.filter((u) => u.accountEnabled).length;
    const filtered = await walk(range("(accountEnabled eq true) and (userPrincipalName ge 'q' and userPrincipalName le 'r')"));
    assert.deepEqual([filtered.ids.length, filtered.counts[0]], [enabled, enabled]);
  });

  it('beforePage: runs before each page request is answered, so a test can change the directory between pages', async () => {
    const seeded = stack.graph.seed(30);
    const target = seeded[20];
    assert.ok(target !== undefined);
    const seen: number[] = [];
    stack.graph.beforePage = (request) => {
      seen.push(request);
      if (seen.length === 2) stack.graph.updateUser(target.id, { jobTitle: 'Changed between pages' });
    };
    let link: string | undefined = '/v1.0/users?$select=id,jobTitle&$top=10';
    const titles = new Map<string, unknown>();
    while (link !== undefined) {
      const page = (await (await get(link, {})).json()) as ListPage;
      for (const user of page.value) titles.set(String(user['id']), user['jobTitle']);
      link = page['@odata.nextLink'];
    }
    assert.equal(seen.length, 3);
    assert.deepEqual(seen, [seen[0], (seen[0] ?? 0) + 1, (seen[0] ?? 0) + 2], 'numbered as counters.pageRequests');
    assert.equal(titles.get(target.id), 'Changed between pages', 'the third page shows the change made before it');
  });
});
