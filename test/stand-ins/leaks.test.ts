import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scanForLeaks } from '../../local/leaks';
import { seedDisplayNames } from '../../local/stand-ins/seed';

// The scan that npm test and the soak run over everything they printed must find what it is for.
describe('leak scan', () => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2dyYXBoIn0.c2lnbmF0dXJlLXBhcnQtbG9uZw';
  const secret = 'local~2f1e4c1a-7a3b-4c7e-9d6f-0a1b2c3d4e5f';

  it('finds a known secret, a JWT, a token signature alone, the Azurite key, seeded e-mail, UPN and names', () => {
    const log = [
      'ok 1 - fine',
      `client_secret=${secret}`,
      `got ${jwt}`,
      `signature ${jwt.split('.')[2] ?? ''}`,
      'AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
      'mail zoe.angstrom0@contoso.com',
      'upn zoe.angstrom0@contoso.onmicrosoft.com',
      'name Zoë Ångström',
    ].join('\n');
    const leaks = scanForLeaks(log, [secret, jwt], seedDisplayNames());
    assert.deepEqual(
      [...new Set(leaks.map((l) => l.line))].sort((a, b) => a - b),
      [2, 3, 4, 5, 6, 7, 8],
    );
    for (const leak of leaks) assert.ok(leak.sample.length <= 7, 'the report never repeats a secret whole');
  });

  it('finds nothing in a clean log, and not the redacted forms', () => {
    const log =
      'Sync finished: 30 users read, 30 messages written (run 1a2b)\nauthorization: Bearer [redacted]\nAccountKey=[redacted];\nuser 8f93c5e7-52fa-43db-a489-e5dc516822bf';
    assert.deepEqual(scanForLeaks(log, [secret, jwt], seedDisplayNames()), []);
  });
});
