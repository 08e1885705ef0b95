import { QueueClient } from '@azure/storage-queue';
import { stopCurrentRun } from '../functions/sync-users/shutdown';
import { count, messageIdOf, MessageTypes } from '../shared';
import { faultKind, faultNames, formatFaults, type Fault, type FaultName } from './faults';
import { invokeSync, onShutdown, parseCommandArgs, runCommand } from './invoke';
import { receiveAll } from './read-queue';
import { startLocalStack, type LocalStack } from './stack';
import { prng } from './stand-ins/seed';

/**
 * `npm run soak -- --runs N --users M --seed S`: many runs against one local stack, each with 0-3
 * faults drawn from every fault faults.ts knows, each invoked (as the host's retry would) until it
 * completes, at most 5 times; then the run's queue is drained and compared with the seeded users.
 * Prints figures, asserts nothing but its exit status: 0 when no user was lost, 1 otherwise.
 * stdout holds ids-free counts only; the error lines of a run that lost users go to stderr.
 */

const maxInvocations = 5;
const pageSize = 999;
const usage = 'usage: npm run soak -- [--runs N] [--users M] [--seed S] [--verbose]';

/** A whole number from `min` to `max` inclusive. */
function between(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** How many consecutive requests (seconds for queue-down) a fault may take, kept small. */
const maxCount: Record<FaultName, number> = {
  'graph-429': 3,
  'graph-429-date': 2,
  'graph-503': 3,
  'graph-504': 3,
  'graph-400': 1,
  'graph-reset': 3,
  'graph-truncated': 3,
  'graph-hang': 2,
  'graph-stall': 2,
  'graph-expire-links': 1,
  'token-503': 3,
  'token-429': 3,
  'kv-429': 3,
  'kv-503': 3,
  'queue-down': 3,
  sigterm: 1,
};

function drawFaults(random: () => number, pages: number): Fault[] {
  const faults: Fault[] = [];
  const wanted = between(random, 0, 3);
  while (faults.length < wanted) {
    const name = faultNames[between(random, 0, faultNames.length - 1)];
    if (name === undefined) continue;
    if (name === 'queue-down' && faults.some((f) => f.name === 'queue-down')) continue;
    const count = between(random, 1, maxCount[name]);
    faults.push(faultKind(name) === 'graph' ? { name, page: between(random, 1, pages), count } : { name, count });
  }
  return faults;
}

interface Args {
  runs: number;
  users: number;
  seed: number;
  verbose: boolean;
}

function parse(argv: string[]): Args | string {
  // Unknown options: a UsageError; --help: the usage (both exit through runCommand, 2 and 0).
  const values = parseCommandArgs(
    {
      runs: { type: 'string', default: '10' },
      users: { type: 'string', default: '3000' },
      seed: { type: 'string', default: '1' },
      verbose: { type: 'boolean', default: false },
    },
    argv,
  );
  const whole = (name: string, text: string, min: number, max: number): number | string => {
    const n = /^\d+$/.test(text) ? Number(text) : NaN;
    return Number.isSafeInteger(n) && n >= min && n <= max ? n : `--${name} must be a whole number from ${min} to ${max}, not "${text}" (${usage})`;
  };
  const runs = whole('runs', values.runs, 1, 10_000);
  const users = whole('users', values.users, 1, 1_000_000);
  const seed = whole('seed', values.seed, 0, 4_294_967_295);
  if (typeof runs === 'string') return runs;
  if (typeof users === 'string') return users;
  if (typeof seed === 'string') return seed;
  return { runs, users, seed, verbose: values.verbose };
}

interface Delivery {
  delivered: number;
  duplicates: number;
  lost: number;
  /** Messages whose id is not a seeded user's, or has no id. */
  strangers: number;
  /** Messages whose messageId is not what its content gives (messageIdOf). */
  badIds: number;
  runIds: number;
}

/** Receives (and deletes the queue of) every message of the run, and compares with the seeded ids. */
async function drain(stack: LocalStack, queueName: string, seeded: ReadonlySet<string>): Promise<Delivery> {
  await stack.azurite.whenUp();
  const queue = new QueueClient(stack.azurite.connectionString, queueName);
  const counts = new Map<string, number>();
  const runIds = new Set<string>();
  let strangers = 0;
  let badIds = 0;
  let total = 0;
  if (await queue.exists()) {
    for (const message of await receiveAll(queue, 'base64')) {
      if (message.type === MessageTypes.snapshotCompleted) continue; // the snapshot's end marker, one per walk that finished
      total++;
      const id = message.user['id'];
      runIds.add(message.runId);
      if (typeof id !== 'string' || !seeded.has(id)) {
        strangers++;
        continue;
      }
      if (!('overflow' in message && message.overflow !== undefined) && message.messageId !== messageIdOf(message)) badIds++;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    await queue.delete();
  }
  const delivered = counts.size;
  return { delivered, duplicates: total - strangers - delivered, lost: seeded.size - delivered, strangers, badIds, runIds: runIds.size };
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  if (typeof args === 'string') {
    process.stderr.write(`soak: ${args}\n`);
    return 2;
  }
  const random = prng(args.seed);
  const stack = await startLocalStack({ persistent: true, onSigterm: () => void stopCurrentRun('soak sigterm') });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= stack.stop());
  onShutdown(stop);
  try {
    Object.assign(process.env, stack.settings, stack.identityEnvironment, { GRAPH_REQUEST_TIMEOUT_SECONDS: '2', SYNC_RETRY_BUDGET_SECONDS: '120' });
    let lostTotal = 0;
    let duplicatesTotal = 0;
    for (let n = 1; n <= args.runs; n++) {
      const users = between(random, Math.max(1, Math.ceil(args.users / 2)), args.users);
      const pages = Math.ceil(users / pageSize);
      const seeded = new Set(stack.graph.seed(users, between(random, 1, 2 ** 31 - 1)).map((u) => u.id));
      let faults = drawFaults(random, pages);
      // Two faults that answer the same Graph request cannot be armed together: draw again.
      for (let attempt = 0; ; attempt++) {
        try {
          stack.faults.arm(faults);
          break;
        } catch (error) {
          if (attempt >= 50) throw error;
          faults = drawFaults(random, pages);
        }
      }
      const queueName = `soak-${n}`;
      process.env['USERS_QUEUE_NAME'] = queueName;
      const injectedBefore = stack.faults.injected;
      const started = Date.now();
      const errors: string[] = [];
      let invocations = 0;
      let completed = false;
      while (!completed && invocations < maxInvocations) {
        invocations++;
        const attempt = invocations;
        const summary = await invokeSync({ write: (level, line) => level === 'error' && errors.push(`invocation ${attempt}: ${line}`) });
        if (summary?.outcome === 'completed') completed = true;
        else if (summary?.outcome === 'locked') errors.push(`invocation ${attempt}: another run held the run lock; it sent nothing`);
      }
      const invoked = Date.now();
      const delivery = await drain(stack, queueName, seeded);
      const seconds = (Date.now() - started) / 1000;
      lostTotal += delivery.lost;
      duplicatesTotal += delivery.duplicates;
      process.stdout.write(
        `run ${n}: users ${users}, faults ${faults.length === 0 ? 'none' : formatFaults(faults)}, invocations ${invocations}, ` +
          `delivered ${delivery.delivered}/${users}, duplicates ${delivery.duplicates}, ${seconds.toFixed(1)} s\n`,
      );
      const notes: string[] = [];
      if (!completed) notes.push(`not completed after ${maxInvocations} invocations`);
      if (delivery.strangers > 0) notes.push(`${delivery.strangers} messages for users that were not seeded`);
      if (delivery.badIds > 0) notes.push(`${delivery.badIds} messages whose messageId is not messageIdOf(runId, userId)`);
      if (delivery.runIds > 1) notes.push(`messages under ${delivery.runIds} runIds`);
      const pending = stack.faults.pending;
      if (pending.length > 0) notes.push(`faults not injected: ${formatFaults(pending)} (${stack.faults.injected - injectedBefore} injected)`);
      if (args.verbose)
        notes.push(
          `invocations ${((invoked - started) / 1000).toFixed(1)} s, drain ${((Date.now() - invoked) / 1000).toFixed(1)} s, ${count(stack.faults.injected - injectedBefore, 'fault')} injected`,
        );
      if (notes.length > 0 || delivery.lost > 0) {
        process.stderr.write(
          `run ${n} (seed ${args.seed}): ${[...(delivery.lost > 0 ? [`${count(delivery.lost, 'user')} lost`] : []), ...notes].join('; ')}\n`,
        );
        if (delivery.lost > 0 || !completed || args.verbose) for (const line of errors) process.stderr.write(`  ${line.replace(/\n/g, '\n  ')}\n`);
      }
    }
    process.stdout.write(
      `soak: ${count(args.runs, 'run')}, ${count(stack.faults.injected, 'fault')} injected, ${count(lostTotal, 'user')} lost, ${count(duplicatesTotal, 'duplicate')}\n`,
    );
    return lostTotal === 0 ? 0 : 1;
  } finally {
    await stop();
  }
}

runCommand('npm run soak', main, usage);
