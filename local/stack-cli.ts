import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { onShutdown, parseCommandArgs, runCommand, UsageError } from './invoke';
import { startLocalStack } from './stack';
import { count } from '../shared/words';

/**
 * `npm run local:stack [-- --users N]`: only the offline stack (with Azurite's blob service too,
 * which the timer trigger's lease needs), and a local.settings.json pointing at it, so that
 * `npm start` (func start) runs the Function against it. Runs until Ctrl-C. An existing
 * local.settings.json that this command did not write is kept as local.settings.json.bak-<time>.
 */

const marker = 'written by npm run local:stack; deleted settings are restored from local.settings.json.example';

async function main(): Promise<number> {
  const values = parseCommandArgs({ users: { type: 'string', default: '2500' } });
  const users = Number(values.users);
  if (!/^\d+$/.test(values.users) || users > 1_000_000) throw new UsageError(`--users "${values.users}" must be a whole number from 0 to 1000000, e.g. --users 2500`);

  const stack = await startLocalStack({ users, fullStorage: true });
  onShutdown(() => stack.stop());
  const path = 'local.settings.json';
  if (existsSync(path)) {
    const existing = await readFile(path, 'utf8');
    if (!existing.includes(marker)) {
      const backup = `${path}.bak-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      await rename(path, backup);
      process.stdout.write(`Kept your ${path} as ${backup}.\n`);
    }
  }
  const certPath = process.env['NODE_EXTRA_CA_CERTS'] ?? '';
  await writeFile(
    path,
    JSON.stringify(
      {
        _comment: marker,
        IsEncrypted: false,
        Values: {
          FUNCTIONS_WORKER_RUNTIME: 'node',
          ...stack.settings,
          // The worker must trust the stack's certificate from its start, and find the managed-identity endpoint.
          NODE_EXTRA_CA_CERTS: certPath,
          ...stack.identityEnvironment,
          // Fire every minute locally, so that func start shows runs.
          SYNC_SCHEDULE: process.env['SYNC_SCHEDULE'] ?? '0 */1 * * * *',
        },
      },
      null,
      2,
    ) + '\n',
  );
  process.stdout.write(
    `Local stack running: Entra ID ${stack.entra.url}, Graph ${stack.graph.url} (${count(users, 'user')}), Key Vault ${stack.keyVault.url}, Azurite ${stack.azurite.queueEndpoint}.\n` +
      `Wrote ${path}. In another terminal: npm start (func start). Ctrl-C here stops the stack.\n`,
  );
  return new Promise<number>(() => undefined); // until Ctrl-C (onShutdown stops the stack and exits)
}

runCommand(
  'npm run local:stack',
  main,
  `usage: npm run local:stack -- [--users N]
  Starts only the offline stack (with Azurite's blob service) and writes a local.settings.json for it,
  for npm start (func start) in another terminal. Runs until Ctrl-C.
  --users N     users seeded in the Graph stand-in, 0 to 1000000 (default 2500)
  -h, --help    this text
Exit status: 0 stopped cleanly, 1 failed, 2 bad arguments.`,
);
