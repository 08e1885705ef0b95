import { randomUUID } from 'node:crypto';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InvocationContext, type LogLevel, type Timer } from '@azure/functions';
import { Cron } from 'croner';
import { stopCurrentRun } from '../functions/sync-users/shutdown';
import { handleSync, type SyncRequest } from '../functions/sync-users/handler';
import { count, type DryRunReport, hostSchedule, parseTimeSpan, SettingsError, type SyncProgress, type SyncSummary } from '../shared';

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
  /** --full, --allow-removals: for this run only. */
  request?: SyncRequest;
}

export async function invokeSync(options: InvokeOptions = {}): Promise<SyncSummary | undefined> {
  const { context, timer } = invocation(options);
  try {
    return await handleSync(timer, context, { ...options.request, dryRun: false });
  } catch {
    // The handler has logged the failure through the context, clearly; nothing more to say.
    return undefined;
  }
}

/** The handler's dry run (`--dry-run`): what a run would send, nothing written. */
export async function invokeDryRun(options: InvokeOptions = {}): Promise<DryRunReport | undefined> {
  const { context, timer } = invocation(options);
  try {
    return await handleSync(timer, context, { ...options.request, dryRun: true });
  } catch {
    return undefined;
  }
}

function invocation(options: InvokeOptions): { context: InvocationContext; timer: Timer } {
  const write = options.write ?? defaultWrite;
  const live = options.liveProgress === true && process.stderr.isTTY;
  let progressShown = false;
  const context = new InvocationContext({
    invocationId: randomUUID(),
    functionName: 'syncUsers',
    logHandler: (level: LogLevel, ...args: unknown[]) => {
      if (level === 'debug' && args[0] === 'sync progress') {
        const p = args[1] as SyncProgress & { runId?: string };
        const line = `  … ${count(p.pages, 'page')}, ${count(p.entries, 'entry', 'entries')} read, ${count(p.messages, 'message')} written${p.runId === undefined ? '' : ` (run ${p.runId})`}`;
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
  return { context, timer };
}

function defaultWrite(level: LogLevel, line: string): void {
  const stamp = new Date().toISOString();
  (level === 'error' || level === 'warning' ? process.stderr : process.stdout).write(`[${stamp}] ${level === 'information' ? 'info' : level}: ${line}\n`);
}

/** A schedule of local runs; stop() ends it (a run in progress finishes). */
export interface RunSchedule {
  stop(): void;
}

/**
 * Fires `run` on SYNC_SCHEDULE as the host reads it (shared/settings/schedule.ts): a six-field
 * NCRONTAB expression (UTC, through croner), or a TimeSpan such as `01:00:00`, which the timer
 * trigger reads as a constant interval from the start. Never overlapping itself (in Azure, too,
 * one instance runs a timer at a time). The schedule keeps the process alive until stopped.
 */
export function scheduleRuns(schedule: string, run: () => Promise<unknown>): RunSchedule {
  const interval = hostSchedule(schedule).kind === 'timespan' ? parseTimeSpan(schedule) : undefined;
  if (interval !== undefined) return everyInterval(schedule, interval, run);
  const job = new Cron(schedule, { timezone: 'UTC', protect: true }, async () => {
    await run();
    announceNext(schedule, job.nextRun());
  });
  announceNext(schedule, job.nextRun());
  return job;
}

/** A TimeSpan schedule: the next run `intervalMs` after the last one started, or at once if it took longer. */
function everyInterval(schedule: string, intervalMs: number, run: () => Promise<unknown>): RunSchedule {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const next = (at: number): void => {
    if (stopped) return;
    announceNext(schedule, new Date(at));
    timer = setTimeout(() => {
      void run().finally(() => next(Math.max(Date.now(), at + intervalMs)));
    }, at - Date.now());
  };
  next(Date.now() + intervalMs);
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/**
 * On the first SIGINT or SIGTERM, stops the run in progress cleanly (it drains its sends, saves its
 * checkpoint and logs what it left), then runs `cleanup` (stop the schedule, the stack, Azurite)
 * and exits: 1 if a run was interrupted, else 0. Later signals are ignored: a terminal's Ctrl-C
 * reaches this process both from the terminal and forwarded by with-trust, and the second must
 * not cut the cleanup short.
 */
export function onShutdown(cleanup: () => Promise<void>): void {
  let started = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (started) return;
    started = true;
    process.stdout.write(`\nStopping (${signal})…\n`);
    let interrupted = false;
    stopCurrentRun(`received ${signal}`)
      .then((wasRunning) => {
        interrupted = wasRunning;
        return cleanup();
      })
      .then(
        () => process.exit(interrupted ? 1 : 0),
        (error: unknown) => {
          process.stderr.write(`Stopping failed: ${error instanceof Error ? error.message : String(error)}\n`);
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

function announceNext(schedule: string, next: Date | null): void {
  process.stdout.write(`Next run at ${next === null ? 'never' : next.toISOString()} (SYNC_SCHEDULE "${schedule}", UTC). Ctrl-C to stop.\n`);
}

/** Exit statuses, the same for every local command. */
export const ExitCode = { ok: 0, failed: 1, usage: 2 } as const;

/** A bad argument: runCommand prints the message and the usage, and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

class HelpRequested extends Error {
  override readonly name = 'HelpRequested';
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * The command's arguments, strictly: an unknown option, a missing value or a positional argument
 * is a UsageError (exit 2), and --help / -h prints the usage and exits 0 (both via runCommand).
 */
export function parseCommandArgs<const T extends Options>(
  options: T,
  args: string[] = process.argv.slice(2),
): ReturnType<typeof parseArgs<{ options: T; strict: true; allowPositionals: false }>>['values'] {
  if (args.includes('--help') || args.includes('-h')) throw new HelpRequested();
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) throw new UsageError((error as Error).message.split('\n')[0] ?? '');
    throw error;
  }
}

/**
 * Runs a command's main and exits with the status it returns, under one rule for every command:
 * 0 ok, 1 a failed run (or any other error), 2 bad settings or arguments. `--help` prints `usage`
 * and exits 0. A thrown error is printed as one message naming the command, never a stack trace.
 */
export function runCommand(name: string, main: () => Promise<number>, usage = `usage: ${name}`): void {
  const exit = (code: number): void => process.exit(code);
  // main() runs inside the promise chain, so that an argument error it throws synchronously lands below too.
  Promise.resolve()
    .then(main)
    .then(exit, (error: unknown) => {
      if (error instanceof HelpRequested) {
        process.stdout.write(`${usage}\n`);
        exit(ExitCode.ok);
      } else if (error instanceof UsageError) {
        process.stderr.write(`${name}: ${error.message}\n${usage}\n`);
        exit(ExitCode.usage);
      } else if (error instanceof SettingsError) {
        process.stderr.write(`${error.message}\n`);
        exit(ExitCode.usage);
      } else {
        process.stderr.write(`${name} failed: ${error instanceof Error ? error.message : String(error)}\n`);
        exit(ExitCode.failed);
      }
    });
}

/** --allow-removals N: a whole number of 1 or more, or a UsageError. */
export function parseAllowRemovals(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1)
    throw new UsageError(
      `--allow-removals "${text}" must be the number of removals to let through this once (1 or more, at least what the held run reported), e.g. --allow-removals 750`,
    );
  return Number(text);
}
