import { existsSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { onShutdown, parseCommandArgs, runCommand, UsageError } from './invoke';
import { startLocalStack } from './stack';
import { count } from '../shared';

/**
 * `npm run local:stack [-- --users N]`: only the offline stack (with Azurite's blob service too,
 * which the timer trigger's lease needs), and a local.settings.json pointing at it, so that
 * `npm start` (func start) runs the Function against it. Runs until Ctrl-C. An existing
 * local.settings.json that this command did not write is kept as local.settings.json.bak-<time>
 * meanwhile; on stop it is put back, or else the generated file is removed (it points at ports and
 * a certificate that no longer exist).
 */

/** Found in every file this command writes: such a file is replaced, never kept as the user's. */
const marker = 'written by npm run local:stack';
const comment =
  `${marker} for func start against the offline stack (SYNC_SCHEDULE fires every minute unless you exported one). ` +
  'It is removed when local:stack stops, and your own local.settings.json, if you had one, is put back from local.settings.json.bak-<time>. ' +
  'For real Azure, start from local.settings.json.example.';

async function main(): Promise<number> {
  const values = parseCommandArgs({ users: { type: 'string', default: '2500' } });
  const users = Number(values.users);
  if (!/^\d+$/.test(values.users) || users > 1_000_000)
    throw new UsageError(`--users "${values.users}" must be a whole number from 0 to 1000000, e.g. --users 2500`);

  const stack = await startLocalStack({ users, fullStorage: true });
  const path = 'local.settings.json';
  let backup: string | undefined;
  // Put the user's file back (or remove ours) before the stack goes: run on Ctrl-C / SIGTERM.
  const restore = async (): Promise<void> => {
    if (backup !== undefined) {
      await rename(backup, path);
      process.stdout.write(`Put your ${path} back (from ${backup}).\n`);
    } else {
      await rm(path, { force: true });
      process.stdout.write(`Removed the ${path} written for the stack.\n`);
    }
  };
  let written = false;
  onShutdown(async () => {
    try {
      if (written || backup !== undefined) await restore();
    } finally {
      await stack.stop();
    }
  });
  if (existsSync(path)) {
    const existing = await readFile(path, 'utf8');
    if (!existing.includes(marker)) {
      backup = `${path}.bak-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      await rename(path, backup);
      process.stdout.write(`Kept your ${path} as ${backup} while the stack runs.\n`);
    }
  }
  const schedule = process.env['SYNC_SCHEDULE'] ?? '0 */1 * * * *';
  const certPath = process.env['NODE_EXTRA_CA_CERTS'] ?? '';
  await writeFile(
    path,
    JSON.stringify(
      {
        _comment: comment,
        IsEncrypted: false,
        Values: {
          FUNCTIONS_WORKER_RUNTIME: 'node',
          ...stack.settings,
          // The worker must trust the stack's certificate from its start, and find the managed-identity endpoint.
          NODE_EXTRA_CA_CERTS: certPath,
          ...stack.identityEnvironment,
          // Fire every minute locally, so that func start shows runs.
          SYNC_SCHEDULE: schedule,
        },
      },
      null,
      2,
    ) + '\n',
  );
  written = true;
  process.stdout.write(
    `Local stack running: Entra ID ${stack.entra.url}, Graph ${stack.graph.url} (${count(users, 'user')}), Key Vault ${stack.keyVault.url}, Azurite ${stack.azurite.queueEndpoint}.\n` +
      `Wrote ${path} (SYNC_SCHEDULE "${schedule}"). In another terminal: npm start (func start). Ctrl-C here stops the stack and ${backup === undefined ? `removes ${path}` : `puts your ${path} back`}.\n`,
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
