import { count } from '../shared/words';
import { invokeSync, parseCommandArgs, runCommand, UsageError } from './invoke';
import { startLocalStack } from './stack';

/**
 * `npm run bench [-- --users 10000,50000] [--concurrency 32]`: sync throughput and memory against
 * the local stack. Prints figures; asserts nothing (targets belong here, not in timed tests).
 * The stand-ins run in this process, so the seeded users are measured before the run and
 * subtracted: what is reported is what the sync itself holds.
 */
async function main(): Promise<number> {
  const values = parseCommandArgs({ users: { type: 'string', default: '2500,10000,50000' }, concurrency: { type: 'string', default: '32' } });
  const sizes = values.users.split(',').map((size) => {
    if (!/^\d+$/.test(size.trim()) || Number(size) < 1 || Number(size) > 1_000_000) throw new UsageError(`--users "${values.users}" must be a comma-separated list of whole numbers from 1 to 1000000, e.g. --users 2500,10000`);
    return Number(size);
  });
  if (!/^\d+$/.test(values.concurrency) || Number(values.concurrency) < 1 || Number(values.concurrency) > 256) throw new UsageError(`--concurrency "${values.concurrency}" must be a whole number from 1 to 256, e.g. --concurrency 32`);
  process.stdout.write(`users\tpages\tms\tusers/s\tpeak live heap over baseline (MiB)\n`);
  // One stack for all sizes: the managed-identity endpoint is fixed for the life of a process.
  const stack = await startLocalStack();
  Object.assign(process.env, stack.settings, stack.identityEnvironment, { QUEUE_SEND_CONCURRENCY: values.concurrency });
  for (const size of sizes) {
    stack.graph.seed(size);
    process.env['USERS_QUEUE_NAME'] = `bench-${size}`;
    global.gc?.();
    const baseline = process.memoryUsage().heapUsed;
    let peak = baseline;
    // Live memory, not garbage: collect before each sample (run with --expose-gc, as npm run bench does).
    const sampler = setInterval(() => {
      global.gc?.();
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }, 250);
    const failures: string[] = [];
    process.stderr.write(`${count(size, 'user')}: running…\n`);
    // Progress on stderr (a live line on a terminal, a line per page otherwise): a 50,000-user run takes a minute.
    const summary = await invokeSync({ liveProgress: true, write: (level, line) => level === 'error' && failures.push(line) });
    clearInterval(sampler);
    if (summary === undefined) {
      await stack.stop();
      throw new Error(`the ${size}-user run failed: ${failures.join('; ')}`);
    }
    const rate = Math.round((summary.users / summary.durationMs) * 1000);
    process.stdout.write(`${summary.users}\t${summary.pages}\t${summary.durationMs}\t${rate}\t${((peak - baseline) / 1048576).toFixed(1)}\n`);
  }
  await stack.stop();
  return 0;
}

runCommand(
  'npm run bench',
  main,
  `usage: npm run bench -- [--users 2500,10000,50000] [--concurrency 32]
  Sync throughput and memory against the offline stack (in this process).
  --users LIST        tenant sizes to run, comma-separated (default 2500,10000,50000)
  --concurrency N     QUEUE_SEND_CONCURRENCY, 1 to 256 (default 32)
  -h, --help          this text
Exit status: 0 ok, 1 a failed run, 2 bad settings or arguments.`,
);
