import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RestError } from '@azure/core-rest-pipeline';
import { describeCause, scrub } from '../../../shared/internal';

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
