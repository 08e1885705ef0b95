import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RestError } from '@azure/core-rest-pipeline';
import {
  CoreErrorCodes,
  CoreErrorMessages,
  createCoreError,
  describeCause,
  RetiredErrorCodes,
  scrub,
  SyncErrorCodes,
  toSyncError,
} from '../../../shared/internal';
import { errorFamilies, itHasAMessagePerCode, itMakesEachCode, madeWith } from '../../helpers/error-families';

// What SDK errors may carry is removed before anything is logged.
describe('scrub', () => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2dyYXBoIn0.c2lnbmF0dXJlLXBhcnQ';
  const cases: [string, string, RegExp][] = [
    ['a bearer header', `authorization: Bearer ${jwt}`, /Bearer \[redacted\]/],
    ['a bare JWT', `token ${jwt} rejected`, /token \[redacted JWT\] rejected/],
    ['a SAS signature', 'GET https://acct.blob.core.windows.net/c/b?sv=2024-11-04&sig=abc%2Fdef%3D&se=2026', /sig=\[redacted\]&se=2026/],
    [
      'an account key',
      'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;EndpointSuffix=core.windows.net',
      /AccountKey=\[redacted\];EndpointSuffix/,
    ],
    ['a SAS connection string', 'BlobEndpoint=https://a.blob.core.windows.net;SharedAccessSignature=sv=2024&sig=x', /SharedAccessSignature=\[redacted\]/],
    ['a client secret in a form body', 'body: client_id=1&client_secret=local~abc-123&scope=x', /client_secret=\[redacted\]&scope=x/],
    ['a client assertion', 'client_assertion=eyJabc.def.ghi&grant_type=client_credentials', /client_assertion=\[redacted\]&grant_type/],
    ['the managed-identity header', 'headers: {"x-identity-header":"9c3a6a4e-0d0b-4f9e-9a83-2b2d4f1d7e11"}', /"x-identity-header":"\[redacted\]"/],
  ];
  for (const [what, text, expected] of cases) {
    it(`removes ${what}`, () => {
      const clean = scrub(text);
      assert.match(clean, expected);
      for (const secret of [jwt, 'abc%2Fdef', 'Eby8vdM0', 'sig=x', 'local~abc-123', '9c3a6a4e-0d0b'])
        assert.ok(!clean.includes(secret), `${secret} left in ${clean}`);
    });
  }

  it('leaves ordinary text alone', () => {
    const text = 'Could not reach Microsoft Graph at https://graph.microsoft.com (setting GRAPH_BASE_URL): ECONNREFUSED';
    assert.equal(scrub(text), text);
  });

  it('is applied to every wrapped SDK error', () => {
    const error = new RestError(`Server failed to authenticate the request. Authorization: Bearer ${jwt}`, { code: 'AuthenticationFailed', statusCode: 403 });
    assert.doesNotMatch(describeCause(error), /eyJ/);
    assert.match(describeCause(error), /RestError AuthenticationFailed: .*Bearer \[redacted\]/);
  });
});

// Every public code has exactly one family, whose message table builds its text: a new code
// without a family (or a message) fails here.
describe('error families', () => {
  it('hold together exactly the codes of SyncErrorCodes, less the retired ones, each in one family', () => {
    const owned = Object.values(errorFamilies).flatMap((family) => Object.values(family.codes));
    assert.equal(new Set(owned).size, owned.length, 'a code is in two families');
    const retired = Object.values(RetiredErrorCodes);
    assert.ok(
      retired.every((code) => !owned.includes(code)),
      'a retired code has a family',
    );
    assert.deepEqual([...owned, ...retired].sort(), Object.values(SyncErrorCodes).sort());
  });

  it('take each code from SyncErrorCodes under the same name', () => {
    for (const family of Object.values(errorFamilies))
      for (const [name, code] of Object.entries(family.codes)) assert.equal(code, (SyncErrorCodes as Record<string, string>)[name], name);
  });
});

describe('core errors', () => {
  itHasAMessagePerCode({ codes: CoreErrorCodes, messages: CoreErrorMessages });
  itMakesEachCode({ codes: CoreErrorCodes, messages: CoreErrorMessages }, () => [
    createCoreError(CoreErrorCodes.unexpected, { causeText: 'TypeError: x is not a function' }, madeWith),
    createCoreError(
      CoreErrorCodes.retryBudgetExhausted,
      { dependency: 'Microsoft Graph', lastFailure: 'HTTP 503', attempts: 14, triedMs: 598_200, limitMs: 600_000, setting: 'GRAPH_BASE_URL' },
      madeWith,
    ),
    createCoreError(CoreErrorCodes.runInterrupted, { problem: 'graphStopped', causeText: 'AbortError: The operation was aborted.' }, madeWith),
    createCoreError(CoreErrorCodes.runInterrupted, { problem: 'askedToStop' }, madeWith),
    createCoreError(CoreErrorCodes.runInterrupted, { problem: 'stoppedOnRequest', progress: 'run r had read 1 user', resume: 'it resumes' }, madeWith),
  ]);

  it('says the retry budget is spent as docs/failures.md quotes it', () => {
    const params = { dependency: 'Microsoft Graph', lastFailure: 'HTTP 503', attempts: 14, triedMs: 598_200, limitMs: 600_000, setting: 'GRAPH_BASE_URL' };
    assert.equal(
      createCoreError(CoreErrorCodes.retryBudgetExhausted, params).message,
      "Microsoft Graph kept failing: last answer HTTP 503, 14 attempts over 598.2 s; the run's retry budget (SYNC_RETRY_BUDGET_SECONDS=600) is spent. Check GRAPH_BASE_URL and the service's health.",
    );
    assert.match(
      createCoreError(CoreErrorCodes.retryBudgetExhausted, { ...params, attempts: 1, setting: undefined }).message,
      /, 1 attempt over .* is spent\.$/,
    );
  });

  it('wraps anything else thrown as UNEXPECTED, with the cause', () => {
    const cause = new TypeError('x is not a function');
    const error = toSyncError(cause);
    assert.equal(error.code, SyncErrorCodes.unexpected);
    assert.equal(error.message, 'Unexpected failure: TypeError: x is not a function');
    assert.equal(error.cause, cause);
    assert.equal(toSyncError(error), error);
  });
});
