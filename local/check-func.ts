import { spawnSync } from 'node:child_process';
import { parseCommandArgs, runCommand } from './invoke';

/**
 * `npm start`'s prestart check: Azure Functions Core Tools 4 (`func`) must be on PATH. Without it,
 * `func start` would end in "sh: func: not found"; this says how to install it, and what
 * `npm run local` offers without it. Exit 0 when found, 1 when not.
 */
const usage = `usage: node dist/local/check-func.js
  Checks that Azure Functions Core Tools 4 (func) is installed, before npm start runs func start.
Exit status: 0 found, 1 not found (or not version 4), 2 bad arguments.`;

function main(): Promise<number> {
  parseCommandArgs({});
  const found = spawnSync('func', ['--version'], { encoding: 'utf8', shell: process.platform === 'win32' });
  const version = found.error === undefined && found.status === 0 ? found.stdout.trim() : undefined;
  if (version !== undefined && /^4\./.test(version)) return Promise.resolve(0);
  process.stderr.write(
    (version === undefined
      ? 'npm start runs func start, but Azure Functions Core Tools (func) is not on PATH.\n'
      : `npm start runs func start, and the func on PATH is version ${version}; this app needs Azure Functions Core Tools 4.\n`) +
      'Install Core Tools 4: npm install -g azure-functions-core-tools@4 (it downloads the func binary),\n' +
      '  or see https://learn.microsoft.com/azure/azure-functions/functions-run-local (apt, Homebrew, winget, MSI).\n' +
      'Then: npm run local:stack in one terminal, npm start in another.\n' +
      'Without Core Tools: npm run local runs the same handler against the offline stack (one run now, then on\n' +
      'SYNC_SCHEDULE), and npm run sync -- --once runs it once with the settings of your environment.\n',
  );
  return Promise.resolve(1);
}

runCommand('npm start (prestart check)', main, usage);
