import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnForwarding } from './child';
import { scanForLeaks, secretsFileVariable } from './leaks';
import { seedDisplayNames } from './stand-ins/seed';
import { count } from '../shared';

/**
 * Runs a command (the test suite, the soak) with its output passed through and kept, then scans
 * everything it printed for secrets and personal data (local/leaks.ts):
 *   node dist/local/scan-run.js <command> [args...]
 * Exit status: the command's, or 1 when the scan finds a leak (each reported by kind and line,
 * never in full).
 */
async function main(): Promise<number> {
  const [command, ...args] = process.argv.slice(2);
  if (command === undefined) {
    process.stderr.write('usage: scan-run <command> [args...]\n');
    return 2;
  }
  const dir = mkdtempSync(join(tmpdir(), 'graph-user-sync-scan-'));
  const registry = join(dir, 'secrets.txt');
  try {
    const { child, exited } = spawnForwarding(command, args, { stdio: ['inherit', 'pipe', 'pipe'], env: { ...process.env, [secretsFileVariable]: registry } });
    const chunks: Buffer[] = [];
    child.stdout?.on('data', (d: Buffer) => {
      chunks.push(d);
      process.stdout.write(d);
    });
    child.stderr?.on('data', (d: Buffer) => {
      chunks.push(d);
      process.stderr.write(d);
    });
    const code = await exited;
    let known: string[] = [];
    try {
      known = readFileSync(registry, 'utf8')
        .split('\n')
        .filter((l) => l !== '');
    } catch {
      // nothing registered: no stack was started
    }
    const text = Buffer.concat(chunks).toString('utf8');
    const leaks = scanForLeaks(text, known, seedDisplayNames());
    const lines = text.split('\n').length;
    if (leaks.length > 0) {
      process.stderr.write(
        `log scan: ${count(leaks.length, 'leak')} in ${count(lines, 'line')} of output:\n${leaks
          .slice(0, 20)
          .map((l) => `  line ${l.line}: ${l.kind} (${l.sample})`)
          .join('\n')}\n`,
      );
      return 1;
    }
    process.stdout.write(`log scan: ${count(lines, 'line')} of output, ${count(known.length, 'secret')} made by the stack looked for, 0 leaks\n`);
    return code;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().then((code) => process.exit(code));
