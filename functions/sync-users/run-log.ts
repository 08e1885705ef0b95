import type { InvocationContext } from '@azure/functions';

/**
 * The log lines of one invocation, each carrying its run id: `[run <id>] <text>` (the debug
 * progress line carries it as `runId` in its data). A new run's id is the invocation's; a resumed
 * run keeps the id it started with, which is known only once the run plan has been made (shared/
 * sync.ts calls `onRunId` then, before any Graph read). Lines written before that (the plan's
 * notices, a past-due warning) are held and written, in order, as soon as the id is known or the
 * invocation ends. An invocation that starts no run (bad settings, the run lock held elsewhere)
 * carries its own id.
 */
export class RunLog {
  #runId: string;
  #known = false;
  #held: [level: 'log' | 'warn' | 'error', text: string][] = [];

  constructor(private readonly context: InvocationContext) {
    this.#runId = context.invocationId;
  }

  get runId(): string {
    return this.#runId;
  }

  /** The run id is known: held lines are written with it. */
  identify(runId: string): void {
    if (this.#known) return;
    this.#runId = runId;
    this.close();
  }

  info(text: string): void {
    this.#write('log', text);
  }

  warn(text: string): void {
    this.#write('warn', text);
  }

  error(text: string): void {
    this.#write('error', text);
  }

  debug(message: string, data: object): void {
    this.context.debug(message, { runId: this.#runId, ...data });
  }

  /** Writes what is held, with the id known so far; later lines are written at once. */
  close(): void {
    this.#known = true;
    const held = this.#held;
    this.#held = [];
    for (const [level, text] of held) this.#write(level, text);
  }

  #write(level: 'log' | 'warn' | 'error', text: string): void {
    if (!this.#known) {
      this.#held.push([level, text]);
      return;
    }
    this.context[level](`[run ${this.#runId}] ${text}`);
  }
}
