import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { TokenCredential } from '@azure/core-auth';
import { createHttpHeaders, type HttpClient } from '@azure/core-rest-pipeline';
import {
  type DirectoryUser,
  fixedBudget,
  graphTokenCredential,
  type GraphUsersOptions,
  readUserPages,
  RetryBudget,
  SyncError,
  SyncErrorCodes,
  usersUrl,
} from '../../../shared/internal';
import type { LocalStack } from '../../../local/stack';
import { graphTokenProvider, startStackForTests } from '../../helpers/stack';

// Graph paging through core-rest-pipeline against the Graph stand-in, with a real msal token.
describe('Graph users pages', () => {
  let stack: LocalStack;
  let credential: TokenCredential;
  before(async () => {
    stack = await startStackForTests();
    credential = graphTokenCredential(graphTokenProvider(stack));
  });
  after(() => stack.stop());
  beforeEach(() => {
    stack.graph.faults.length = 0;
  });

  function options(overrides: Partial<GraphUsersOptions> = {}): GraphUsersOptions {
    return {
      baseUrl: stack.graph.url,
      fields: ['id', 'displayName', 'mail'],
      credential,
      adminConsentUrl: 'https://consent.example/adminconsent',
      budgets: fixedBudget(new RetryBudget(30_000)),
      ...overrides,
    };
  }

  async function collect(opts: GraphUsersOptions): Promise<DirectoryUser[][]> {
    const pages: DirectoryUser[][] = [];
    for await (const page of readUserPages(opts)) pages.push(page.entries.flatMap((e) => (e.kind === 'user' ? [e.user] : [])));
    return pages;
  }

  const staticToken = (token: string): TokenCredential => ({ getToken: () => Promise.resolve({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) });

  it('reads 2,500 users in pages of 999 with exactly the selected fields', async () => {
    const seeded = stack.graph.seed(2500);
    const pages = await collect(options());
    assert.deepEqual(
      pages.map((p) => p.length),
      [999, 999, 502],
    );
    const users = pages.flat();
    assert.deepEqual(
      users.map((u) => u.id),
      seeded.map((u) => u.id),
    );
    assert.deepEqual(users[7]?.properties, { id: seeded[7]?.id, displayName: seeded[7]?.displayName, mail: seeded[7]?.mail });
  });

  it('asks for $select and $top=999 and follows each @odata.nextLink whole', async () => {
    stack.graph.seed(1000);
    const start = stack.graph.requestLog.length;
    await collect(options());
    const requests = stack.graph.requestLog.slice(start);
    assert.equal(requests.length, 2);
    assert.equal(`${stack.graph.url}${requests[0] ?? ''}`, usersUrl(stack.graph.url, ['id', 'displayName', 'mail']));
    assert.match(requests[0] ?? '', /\?\$select=id,displayName,mail&\$top=999$/);
    assert.equal(`${stack.graph.url}${requests[1] ?? ''}`, stack.graph.issuedNextLinks.at(-1));
    assert.match(requests[1] ?? '', /\$skiptoken=RFNwdAIAAQAAA[\w-]+$/);
  });

  it('fetches the next page only when the consumer asks for it', async () => {
    stack.graph.seed(2500);
    const pagesBefore = stack.graph.counters.pages;
    const iterator = readUserPages(options())[Symbol.asyncIterator]();
    await iterator.next();
    assert.equal(stack.graph.counters.pages - pagesBefore, 1);
    await iterator.return?.();
  });

  it('handles an empty tenant and an empty page in the middle', async () => {
    stack.graph.seed(0);
    assert.deepEqual(
      (await collect(options())).map((p) => p.length),
      [0],
    );
    stack.graph.seed(1500);
    stack.graph.faults.push({ emptyPage: true });
    const pages = await collect(options());
    assert.deepEqual(
      pages.map((p) => p.length),
      [0, 999, 501],
    );
  });

  it('waits out 429 Retry-After and 503, then goes on', async () => {
    stack.graph.seed(10);
    stack.graph.faults.push({ status: 429, retryAfterSeconds: 1 }, { status: 503 });
    const started = Date.now();
    const pages = await collect(options());
    assert.equal(pages.flat().length, 10);
    assert.ok(Date.now() - started >= 900, 'Retry-After: 1 should have been honoured');
    assert.equal(stack.graph.faults.length, 0);
  });

  it('explains a 403 with the admin-consent URL', async () => {
    const app = stack.entra.apps.get(stack.clientId.toLowerCase());
    assert.ok(app);
    const fresh = graphTokenProvider(stack);
    const roles = app.appRoles[stack.graph.url];
    app.appRoles[stack.graph.url] = [];
    try {
      await assert.rejects(collect(options({ credential: graphTokenCredential(fresh) })), (error: unknown) => {
        assert.ok(error instanceof SyncError);
        assert.equal(error.code, SyncErrorCodes.graphConsentRequired);
        assert.match(error.message, /User\.Read\.All/);
        assert.match(error.message, /https:\/\/consent\.example\/adminconsent/);
        return true;
      });
    } finally {
      app.appRoles[stack.graph.url] = roles ?? [];
    }
  });

  it("passes on Graph's 400 for a bad $top and an unknown property, naming USER_FIELDS", async () => {
    stack.graph.seed(3);
    await assert.rejects(
      collect(options({ pageSize: 1000 })),
      (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.graphBadRequest && /between 1 and 999/.test(error.message),
    );
    await assert.rejects(
      collect(options({ fields: ['id', 'favouriteColour'] })),
      (error: unknown) => error instanceof SyncError && /favouriteColour/.test(error.message) && /USER_FIELDS/.test(error.message),
    );
  });

  it('rejects a token for another audience (401), naming the settings to check', async () => {
    // A genuine token from the same authority, but for Key Vault: Graph must refuse it.
    const vaultTokens = graphTokenProvider(stack, { scope: 'https://vault.azure.net/.default' });
    await assert.rejects(
      collect(options({ credential: graphTokenCredential(vaultTokens) })),
      (error: unknown) =>
        error instanceof SyncError &&
        error.code === SyncErrorCodes.graphTokenRejected &&
        /Invalid audience/.test(error.message) &&
        /GRAPH_BASE_URL/.test(error.message),
    );
    await assert.rejects(
      collect(options({ credential: staticToken('not-a-jwt') })),
      (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.graphTokenRejected,
    );
  });

  it('never sends the token to a nextLink on another host', async () => {
    const sent: string[] = [];
    const httpClient: HttpClient = {
      sendRequest: (request) => {
        sent.push(request.url);
        return Promise.resolve({
          request,
          status: 200,
          headers: createHttpHeaders(),
          bodyAsText: JSON.stringify({ value: [{ id: 'a' }], '@odata.nextLink': 'https://attacker.example/v1.0/users?$skiptoken=x' }),
        });
      },
    };
    await assert.rejects(collect(options({ baseUrl: 'https://graph.microsoft.com', httpClient, credential: staticToken('t') })), /another host/);
    assert.equal(sent.length, 1);
  });

  it('retries an unreachable Graph within the budget, then names GRAPH_BASE_URL, the last answer and how long it tried', async () => {
    const budget = new RetryBudget(1500);
    const started = Date.now();
    await assert.rejects(collect(options({ baseUrl: 'https://127.0.0.1:1', credential: staticToken('t'), budgets: fixedBudget(budget) })), (error: unknown) => {
      assert.ok(error instanceof SyncError, String(error));
      assert.equal(error.code, SyncErrorCodes.retryBudgetExhausted);
      assert.match(error.message, /^Microsoft Graph kept failing: last answer ECONNREFUSED/);
      assert.match(error.message, /\d+ attempts over \d+\.\d s/);
      assert.match(error.message, /SYNC_RETRY_BUDGET_SECONDS=2/);
      assert.match(error.message, /GRAPH_BASE_URL/);
      return true;
    });
    assert.ok(Date.now() - started < 5000, 'bounded by the budget');
    assert.ok(budget.spentMs <= 1500);
  });

  it('requests the same page again after a 504 and a 429 with an HTTP-date Retry-After: no page skipped', async () => {
    const seeded = stack.graph.seed(2000);
    stack.graph.faults.push({ pass: true }, { status: 504 }, { status: 429, retryAfterSeconds: 1 });
    const start = stack.graph.requestLog.length;
    const pages = await collect(options());
    assert.deepEqual(
      pages.flat().map((u) => u.id),
      seeded.map((u) => u.id),
    );
    const requests = stack.graph.requestLog.slice(start);
    assert.equal(requests.length, 5, 'page 1, page 2 three times, page 3');
    assert.equal(requests[1], requests[2]);
    assert.equal(requests[2], requests[3]);
  });

  it('resumes from a saved page link, and says when Graph refuses it', async () => {
    const seeded = stack.graph.seed(2500);
    const first = await readUserPages(options())[Symbol.asyncIterator]().next();
    assert.ok(first.done !== true && first.value.nextLink !== undefined);
    const rest = await collect(options({ startUrl: first.value.nextLink }));
    assert.deepEqual(
      rest.flat().map((u) => u.id),
      seeded.slice(999).map((u) => u.id),
    );
    const expired = first.value.nextLink.replace(/\$skiptoken=[^&]+/, '$skiptoken=RFNwdAIAAQAAAexpired');
    await assert.rejects(
      collect(options({ startUrl: expired })),
      (error: unknown) => error instanceof SyncError && error.code === SyncErrorCodes.graphPageLinkExpired,
    );
  });
});
