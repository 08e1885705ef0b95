import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { appToken, getDelta, walkDelta, type DeltaEntry, type DeltaPage } from '../helpers/graph-delta-client';

// What real Graph does in a delta walk that the stand-in models on request: replays, cleared
// properties as null, a sync reset on a nextLink, page tokens of retried requests.

const select = 'id,displayName,mail,jobTitle,department';
const pagesOf3 = 'odata.maxpagesize=3';

describe('Graph users delta: replays, nulls, resets mid-walk, retried page tokens', () => {
  let stack: LocalStack;
  let token: string;

  before(async () => {
    stack = await startLocalStack({ users: 0 });
    token = await appToken(stack);
  });
  after(() => stack.stop());
  beforeEach(() => {
    stack.faults.clear();
    stack.graph.deltaReplays = false;
    stack.graph.retriedPageTokensFail = false;
    stack.graph.seed(9);
  });

  const start = `$select=${select}`;
  const walk = (link: string, prefer?: string): Promise<{ pages: DeltaEntry[][]; deltaLink: string }> => walkDelta(link, token, prefer);
  const first = (): string => `${stack.graph.url}/v1.0/users/delta?${start}`;

  it('a property cleared since the link comes as null in the default representation; a never-set one stays left out', async () => {
    const [a] = stack.graph.users;
    assert.ok(a);
    const { deltaLink } = await walk(first());
    stack.graph.updateUser(a.id, { jobTitle: null, displayName: 'Renamed' });
    const entries = (await walk(deltaLink)).pages.flat();
    assert.equal(entries.length, 1);
    assert.equal(entries[0]?.jobTitle, null, 'the cleared property is there, as null');
    assert.equal(entries[0]?.displayName, 'Renamed');
    if (a.department === null) assert.ok(!('department' in (entries[0] ?? {})), 'a never-set property is left out');
  });

  it('deltaReplays: a removal before an update of the same user, an earlier state before a removal, a user twice and a removal twice, on different pages', async () => {
    const [a, b, c] = stack.graph.users;
    assert.ok(a && b && c);
    const { deltaLink } = await walk(first());
    stack.graph.updateUser(a.id, { jobTitle: 'First' });
    stack.graph.updateUser(b.id, { jobTitle: 'Second' });
    stack.graph.softDeleteUser(c.id);
    for (let i = 0; i < 4; i++) stack.graph.addUser();
    stack.graph.deltaReplays = true;
    const { pages } = await walk(deltaLink, pagesOf3);
    const replays = stack.graph.lastReplays;
    assert.ok(replays);
    const entries = pages.flat();
    const at = (id: string | undefined, removed: boolean): number[] =>
      entries.flatMap((e, i) => (e.id === id && (e['@removed'] !== undefined) === removed ? [i] : []));
    assert.equal(at(replays.changedTwice, false).length, 2, 'the same user twice');
    assert.equal(at(replays.removedTwice, true).length, 2, 'the same removal twice');
    assert.ok((at(replays.removedThenChanged, true)[0] ?? 99) < (at(replays.removedThenChanged, false)[0] ?? -1), 'a removal, then the user again');
    assert.ok((at(replays.changedThenRemoved, false)[0] ?? 99) < (at(replays.changedThenRemoved, true)[0] ?? -1), 'the user, then its removal');
    assert.ok(pages.length >= 3, 'replays fall on other pages than the entries they repeat');
    const pageOf = (index: number): number => Math.floor(index / 3);
    const twice = at(replays.changedTwice, false);
    assert.notEqual(pageOf(twice[0] ?? 0), pageOf(twice[1] ?? 0));
  });

  it('resetSync on a nextLink: 410 Gone mid-walk, with or without a Location', async () => {
    const { deltaLink } = await walk(first());
    for (let i = 0; i < 5; i++) stack.graph.addUser();
    for (const location of [true, false]) {
      const firstPage = (await (await getDelta(deltaLink, token, pagesOf3)).json()) as DeltaPage;
      const next = firstPage['@odata.nextLink'];
      assert.ok(next !== undefined);
      stack.graph.resetSync({ on: 'nextLink', location });
      const gone = await getDelta(next, token, pagesOf3);
      assert.equal(gone.status, 410);
      assert.equal(((await gone.json()) as { error: { code: string } }).error.code, 'resyncRequired');
      assert.equal(gone.headers.get('location'), location ? `${stack.graph.url}/v1.0/users/delta?$select=${select}&$deltatoken=` : null);
    }
  });

  it('retriedPageTokensFail: the nextLink of a retried page request is answered with DirectoryPageTokenNotFoundException; the link of the first answer still works', async () => {
    stack.graph.retriedPageTokensFail = true;
    const page1 = (await (await getDelta(first(), token, pagesOf3)).json()) as DeltaPage;
    const next = page1['@odata.nextLink'];
    assert.ok(next !== undefined);
    const answered = (await (await getDelta(next, token, pagesOf3)).json()) as DeltaPage;
    const retried = (await (await getDelta(next, token, pagesOf3)).json()) as DeltaPage;
    assert.deepEqual(retried.value, answered.value, 'a retry gets the same page');
    const fromRetry = await getDelta(retried['@odata.nextLink'] ?? '', token, pagesOf3);
    assert.equal(fromRetry.status, 400);
    assert.equal(((await fromRetry.json()) as { error: { code: string } }).error.code, 'DirectoryPageTokenNotFoundException');
    assert.equal((await getDelta(answered['@odata.nextLink'] ?? '', token, pagesOf3)).status, 200, 'the first answer’s token is good');
  });
});
