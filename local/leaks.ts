import { appendFileSync } from 'node:fs';

/**
 * The leak scan: what a log must never hold. Secrets the local stack makes at run time (the client
 * secret, the managed-identity header, every access token it issues) are written to a registry
 * file named by LOCAL_STACK_SECRETS_FILE when local/scan-run.ts runs a command; patterns catch
 * what is known in advance (JWTs, the Azurite account key, the seeded users' e-mail addresses,
 * UPNs and display names).
 */

export const secretsFileVariable = 'LOCAL_STACK_SECRETS_FILE';

/** Records a secret for the scan, if a scan is running (a no-op otherwise). */
export function registerSecret(value: string): void {
  const file = process.env[secretsFileVariable];
  if (file !== undefined && file !== '' && value.length >= 8) appendFileSync(file, `${value}\n`);
}

export interface Leak {
  readonly line: number;
  readonly kind: string;
  /** The first characters only: the report must not leak what it found. */
  readonly sample: string;
}

const patterns: readonly [string, RegExp][] = [
  ['JWT (header.payload)', /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}/],
  ['Azurite account key', /Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50u/],
  ['account key in a connection string', /AccountKey=(?!\[redacted\])[A-Za-z0-9+/]{20,}/],
  ['seeded e-mail or UPN', /[A-Za-z0-9._-]+@contoso\.(com|onmicrosoft\.com)\b/],
  ['bearer token', /\bBearer\s+(?!\[redacted\])[A-Za-z0-9._~+/-]{20,}/],
];

export function scanForLeaks(text: string, known: readonly string[], personalNames: readonly string[] = []): Leak[] {
  const leaks: Leak[] = [];
  // A token's signature alone must not appear either: look for each known secret and each JWT's last part.
  const needles = known.flatMap((k) => (k.split('.').length === 3 ? [k, k.split('.')[2] ?? k] : [k])).filter((n) => n.length >= 8);
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    for (const [kind, pattern] of patterns) {
      const match = pattern.exec(line);
      if (match !== null) leaks.push({ line: index + 1, kind, sample: `${match[0].slice(0, 6)}…` });
    }
    for (const needle of needles) if (line.includes(needle)) leaks.push({ line: index + 1, kind: 'a secret the stack made', sample: `${needle.slice(0, 4)}…` });
    for (const name of personalNames) if (line.includes(name)) leaks.push({ line: index + 1, kind: 'a seeded display name', sample: `${name.slice(0, 3)}…` });
  });
  return leaks;
}
