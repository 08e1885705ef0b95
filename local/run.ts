import { createRequire } from 'node:module';
import { QueueClient } from '@azure/storage-queue';
import { count, decodeMessage, readSettings, type SyncSettings } from '../shared';
import { formatFaults, parseFaults, type Fault } from './faults';
import { ExitCode, invokeSync, onShutdown, parseCommandArgs, runCommand, scheduleRuns, UsageError, type RunSchedule } from './invoke';
import { summarizeChurn } from './churn';
import { startLocalStack, stackCredentials } from './stack';
import { prng } from './stand-ins/seed';
import type * as LocalTelemetryModule from './telemetry';
import type { LocalTelemetry } from './telemetry';

/**
 * `npm run local [-- --once] [--users N] [--churn N] [--credential M] [--faults LIST] [--telemetry]`: the whole offline stack,
 * one sync at once with a live progress line, the summary and one message read back from the
 * queue; then (without --once) N random changes to the directory and a second run right away,
 * which in delta mode sends only those; then the sync again on SYNC_SCHEDULE, N changes before
 * each run, until Ctrl-C. Settings you export (USER_FIELDS, SYNC_SCHEDULE, …) win over the
 * stack's; the endpoints and identities always come from the stack. `--faults` arms the stand-ins'
 * fault plan (grammar in faults.ts, e.g. graph-429@2,token-503,queue-down@2x4) before the run.
 */

const userTunable = [
  'USER_FIELDS',
  'SYNC_SCHEDULE',
  'USERS_QUEUE_NAME',
  'USERS_QUEUE_MESSAGE_ENCODING',
  'QUEUE_SEND_CONCURRENCY',
  'SYNC_MODE',
  'SYNC_MAX_REMOVALS',
  'SYNC_ALLOW_REMOVALS',
];
const defaultChurn = 25;

async function main(): Promise<number> {
  const values = parseCommandArgs({
    once: { type: 'boolean', default: false },
    users: { type: 'string', default: '2500' },
    churn: { type: 'string', default: String(defaultChurn) },
    credential: { type: 'string', default: 'secret' },
    faults: { type: 'string' },
    telemetry: { type: 'boolean', default: false },
  });
  const credential = stackCredentials.find((c) => c === values.credential);
  if (credential === undefined)
    throw new UsageError(`--credential "${values.credential}" must be one of ${stackCredentials.join(', ')}, e.g. --credential managed-identity`);
  const users = Number(values.users);
  if (!/^\d+$/.test(values.users) || users > 1_000_000)
    throw new UsageError(`--users "${values.users}" must be a whole number from 0 to 1000000, e.g. --users 2500`);
  const churn = Number(values.churn);
  if (!/^\d+$/.test(values.churn) || churn > 100_000)
    throw new UsageError(`--churn "${values.churn}" must be a whole number of changes from 0 to 100000, e.g. --churn ${defaultChurn}`);
  let faults: Fault[] = [];
  try {
    faults = parseFaults(values.faults ?? '');
  } catch (error) {
    throw new UsageError(`--faults: ${error instanceof Error ? error.message : String(error)}`);
  }

  // Before anything makes a span: the SDK with in-memory exporters, printed after each run (loaded only with the flag).
  const local = values.telemetry ? (createRequire(__filename)('./telemetry') as typeof LocalTelemetryModule) : undefined;
  const telemetry: LocalTelemetry | undefined = local?.startLocalTelemetry();
  process.stdout.write(`Starting the local stack (Entra ID, Graph with ${count(users, 'user')}, Key Vault, Azurite)…\n`);
  // queue-down restarts Azurite: only on disk does the queue keep its messages through that.
  const stack = await startLocalStack({ users, faults, persistent: faults.some((f) => f.name === 'queue-down'), credential });
  let job: RunSchedule | undefined = undefined;
  onShutdown(async () => {
    job?.stop();
    await stack.stop();
  });
  const exported = userTunable.filter((name) => (process.env[name] ?? '') !== '');
  for (const [name, value] of Object.entries(stack.settings)) {
    if (!exported.includes(name)) process.env[name] = value;
  }
  Object.assign(process.env, stack.identityEnvironment);
  const vault =
    credential === 'managed-identity'
      ? 'holds nothing: no secret anywhere'
      : credential === 'certificate'
        ? `holds certificate "${stack.certificateName}", no secret`
        : `holds secret "${stack.secretName}"`;
  process.stdout.write(`  Credential ${credential} (GRAPH_CREDENTIAL); the vault ${vault}\n`);
  process.stdout.write(
    `  Entra ID  ${stack.entra.url} (tenant ${stack.tenantId})\n  Graph     ${stack.graph.url}\n  Key Vault ${stack.keyVault.url}\n  Azurite   ${stack.azurite.queueEndpoint}\n`,
  );
  if (faults.length > 0) process.stdout.write(`  Faults    ${formatFaults(stack.faults.pending)}\n`);

  const once = async (): Promise<boolean> => {
    const summary = await invokeSync({ liveProgress: true });
    if (telemetry !== undefined) await local?.printTelemetry(telemetry);
    if (faults.length > 0) process.stdout.write(`${count(stack.faults.injected, 'fault')} injected so far.\n`);
    if (summary === undefined) return false;
    const expected = summary.snapshots + summary.upserts + summary.removals + (summary.sends === 'snapshot' ? 1 : 0);
    if (summary.outcome === 'completed' && !summary.resumed && summary.messages !== expected)
      process.stderr.write(`warning: ${count(expected, 'message')} expected but ${count(summary.messages, 'message')} written\n`);
    return true;
  };
  // The directory changes between runs, as a real one does: adds, updates, soft and hard deletes, restores.
  const random = prng(Date.now() % 2 ** 31);
  const changeThenRun = async (): Promise<boolean> => {
    if (churn > 0) process.stdout.write(`Directory changed before this run: ${summarizeChurn(stack.graph.churn(churn, random))}.\n`);
    return once();
  };

  let ok = false;
  let settings: SyncSettings;
  try {
    settings = readSettings(process.env, {
      source:
        exported.length > 0 ? `the environment: you exported ${exported.join(', ')}, which win over the local stack's settings` : "the local stack's settings",
    });
    ok = await once();
    if (ok) {
      const queue = new QueueClient(stack.azurite.connectionString, settings.queueName);
      const [peeked] = (await queue.peekMessages({ numberOfMessages: 1 })).peekedMessageItems;
      if (peeked !== undefined) {
        process.stdout.write(
          `One message from queue "${settings.queueName}" (decoded):\n${JSON.stringify(decodeMessage(peeked.messageText, settings.messageEncoding), null, 2)}\n`,
        );
      }
      const { approximateMessagesCount } = await queue.getProperties();
      process.stdout.write(`Queue "${settings.queueName}" now holds about ${count(approximateMessagesCount ?? 0, 'message')}.\n`);
    }
  } catch (error) {
    await stack.stop();
    throw error;
  }

  if (values.once) {
    await stack.stop();
    return ok ? ExitCode.ok : ExitCode.failed;
  }
  if (churn > 0) {
    process.stdout.write(
      `\nA second run right away, after ${count(churn, 'random change')} (--churn ${churn}): in delta mode it sends only those (an update of a property outside USER_FIELDS does not surface).\n`,
    );
    await changeThenRun();
  }
  job = scheduleRuns(settings.schedule, changeThenRun);
  return new Promise<number>(() => undefined); // until Ctrl-C (onShutdown exits)
}

runCommand(
  'npm run local',
  main,
  `usage: npm run local -- [--once] [--users N] [--churn N] [--credential M] [--faults LIST] [--telemetry]
  Starts the offline stack (Entra ID, Graph, Key Vault stand-ins and Azurite), runs the sync once,
  then changes the directory and runs it again (delta mode: only the changes), then on
  SYNC_SCHEDULE until Ctrl-C. Exported USER_FIELDS, SYNC_SCHEDULE, USERS_QUEUE_NAME,
  USERS_QUEUE_MESSAGE_ENCODING, QUEUE_SEND_CONCURRENCY, SYNC_MODE, SYNC_MAX_REMOVALS and
  SYNC_ALLOW_REMOVALS win over the stack's.
  --once          one run, then stop the stack and exit
  --users N       users seeded in the Graph stand-in, 0 to 1000000 (default 2500)
  --churn N       random directory changes before each run after the first (default ${defaultChurn}; 0: none)
  --credential M  GRAPH_CREDENTIAL: secret (default), certificate or managed-identity (then no secret anywhere)
  --faults LIST   faults for the stand-ins, e.g. graph-429@2,token-503,queue-down@2x3
  --telemetry     print each run's OpenTelemetry spans (a tree) and metrics (a table), kept in memory
  -h, --help      this text
Exit status: 0 ok, 1 a failed run, 2 bad settings or arguments.`,
);
