import { parseArgs } from 'node:util';
import { QueueClient } from '@azure/storage-queue';
import { decodeMessage } from '../shared/messages';
import { readSettings } from '../shared/settings';
import type { Cron } from 'croner';
import { formatFaults, parseFaults, type Fault } from './faults';
import { invokeSync, onShutdown, runCommand, scheduleRuns } from './invoke';
import { startLocalStack } from './stack';

/**
 * `npm run local [-- --once] [--users N] [--faults LIST]`: the whole offline stack, one sync at
 * once with a live progress line, the summary and one message read back from the queue; then the
 * sync again on SYNC_SCHEDULE until Ctrl-C. Settings you export (USER_FIELDS, SYNC_SCHEDULE, …) win over the
 * stack's; the endpoints and identities always come from the stack. `--faults` arms the stand-ins'
 * fault plan (grammar in faults.ts, e.g. graph-429@2,token-503,queue-down@2x4) before the run.
 */

const userTunable = ['USER_FIELDS', 'SYNC_SCHEDULE', 'USERS_QUEUE_NAME', 'USERS_QUEUE_MESSAGE_ENCODING', 'QUEUE_SEND_CONCURRENCY'];

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      once: { type: 'boolean', default: false },
      users: { type: 'string', default: '2500' },
      faults: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('usage: npm run local -- [--once] [--users N] [--faults LIST]\n');
    return 0;
  }
  const users = Number(values.users);
  if (!Number.isInteger(users) || users < 0 || users > 1_000_000) {
    process.stderr.write(`--users "${values.users}" must be a whole number from 0 to 1000000, e.g. --users 2500\n`);
    return 2;
  }
  let faults: Fault[] = [];
  try {
    faults = parseFaults(values.faults ?? '');
  } catch (error) {
    process.stderr.write(`--faults: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }

  process.stdout.write(`Starting the local stack (Entra ID, Graph with ${users} users, Key Vault, Azurite)…\n`);
  // queue-down restarts Azurite: only on disk does the queue keep its messages through that.
  const stack = await startLocalStack({ users, faults, persistent: faults.some((f) => f.name === 'queue-down') });
  let job: Cron | undefined = undefined;
  onShutdown(async () => {
    job?.stop();
    await stack.stop();
  });
  for (const [name, value] of Object.entries(stack.settings)) {
    if (!(userTunable.includes(name) && process.env[name] !== undefined && process.env[name] !== '')) process.env[name] = value;
  }
  Object.assign(process.env, stack.identityEnvironment);
  process.stdout.write(`  Entra ID  ${stack.entra.url} (tenant ${stack.tenantId})\n  Graph     ${stack.graph.url}\n  Key Vault ${stack.keyVault.url}\n  Azurite   ${stack.azurite.queueEndpoint}\n`);
  if (faults.length > 0) process.stdout.write(`  Faults    ${formatFaults(stack.faults.pending)}\n`);

  const settings = readSettings(process.env);
  const once = async (): Promise<boolean> => {
    const summary = await invokeSync({ liveProgress: true });
    if (faults.length > 0) process.stdout.write(`${stack.faults.injected} faults injected so far.\n`);
    if (summary === undefined) return false;
    if (summary.messages !== summary.users) process.stderr.write(`warning: ${summary.users} users read but ${summary.messages} messages written\n`);
    return true;
  };

  let ok = false;
  try {
    ok = await once();
    if (ok) {
      const queue = new QueueClient(stack.azurite.connectionString, settings.queueName);
      const [peeked] = (await queue.peekMessages({ numberOfMessages: 1 })).peekedMessageItems;
      if (peeked !== undefined) {
        process.stdout.write(`One message from queue "${settings.queueName}" (decoded):\n${JSON.stringify(decodeMessage(peeked.messageText, settings.messageEncoding), null, 2)}\n`);
      }
      const { approximateMessagesCount } = await queue.getProperties();
      process.stdout.write(`Queue "${settings.queueName}" now holds about ${approximateMessagesCount ?? 0} messages.\n`);
    }
  } catch (error) {
    await stack.stop();
    throw error;
  }

  if (values.once) {
    await stack.stop();
    return ok ? 0 : 1;
  }
  job = scheduleRuns(settings.schedule, once);
  return new Promise<number>(() => undefined); // until Ctrl-C (onShutdown exits)
}

runCommand('npm run local', main);
