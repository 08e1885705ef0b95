import { randomUUID } from 'node:crypto';
import { InvocationContext, type LogLevel, type Timer } from '@azure/functions';
import { Cron } from 'croner';
import { syncUsersHandler } from '../functions/syncUsersHandler';
import type { SyncProgress, SyncSummary } from '../shared/sync';

/**
 * Calls the Function's own handler outside the Functions host, as the host would: a real
 * InvocationContext and a Timer. Used by `npm run local` and `npm run sync`.
 */

export interface InvokeOptions {
  /** Where log lines go (default: stdout / stderr). */
  write?: (level: LogLevel, line: string) => void;
  /** A live progress line on stderr when it is a terminal. */
  liveProgress?: boolean;
  isPastDue?: boolean;
}

export async function invokeSync(options: InvokeOptions = {}): Promise<SyncSummary | undefined> {
  const write = options.write ?? defaultWrite;
  const live = options.liveProgress === true && process.stderr.isTTY;
  let progressShown = false;
  const context = new InvocationContext({
    invocationId: randomUUID(),
    functionName: 'syncUsers',
    logHandler: (level: LogLevel, ...args: unknown[]) => {
      if (level === 'debug' && args[0] === 'sync progress') {
        const p = args[1] as SyncProgress;
        const line = `  … ${p.pages} pages, ${p.users} users read, ${p.messages} messages written`;
        if (live) {
          process.stderr.write(`\r${line}\x1b[K`);
          progressShown = true;
        } else if (options.liveProgress === true) {
          process.stderr.write(`${line}\n`);
        }
        return;
      }
      if (level === 'debug' || level === 'trace') return;
      if (progressShown) {
        process.stderr.write('\r\x1b[K');
        progressShown = false;
      }
      write(level, args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
    },
    options: { trigger: { type: 'timerTrigger', name: 'timer', schedule: '%SYNC_SCHEDULE%' } },
  });
  const now = new Date().toISOString();
  const timer: Timer = { isPastDue: options.isPastDue ?? false, schedule: { adjustForDST: false }, scheduleStatus: { last: now, next: now, lastUpdated: now } };
  try {
    return await syncUsersHandler(timer, context);
  } catch {
    // The handler has logged the failure through the context, clearly; nothing more to say.
    return undefined;
  }
}

function defaultWrite(level: LogLevel, line: string): void {
  const stamp = new Date().toISOString();
  (level === 'error' || level === 'warning' ? process.stderr : process.stdout).write(`[${stamp}] ${level === 'information' ? 'info' : level}: ${line}\n`);
}

/**
 * Fires `run` on a six-field NCRONTAB schedule (UTC) until SIGINT/SIGTERM, never overlapping
 * itself (one instance runs a timer at a time in Azure too), then calls `stop`.
 */
export async function runOnSchedule(schedule: string, run: () => Promise<unknown>, stop: () => Promise<void>): Promise<void> {
  const job = new Cron(schedule, { timezone: 'UTC', protect: true }, async () => {
    await run();
    announceNext(job);
  });
  announceNext(job);
  await new Promise<void>((resolve) => {
    const finish = (): void => {
      process.stdout.write('\nStopping…\n');
      job.stop();
      resolve();
    };
    process.once('SIGINT', finish);
    process.once('SIGTERM', finish);
  });
  await stop();
}

function announceNext(job: Cron): void {
  const next = job.nextRun();
  process.stdout.write(`Next run at ${next === null ? 'never' : next.toISOString()} (SYNC_SCHEDULE "${job.getPattern() ?? ''}", UTC). Ctrl-C to stop.\n`);
}
