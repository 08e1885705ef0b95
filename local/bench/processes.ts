import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { BenchStackOptions } from './stack-process';
import type { ScenarioReport, StackAnswer, StackCommand, StackReady } from './protocol';

/** The stack process: commands over IPC, each answered once. */
export class StackProcess {
  #next = 1;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private constructor(
    readonly child: ChildProcess,
    readonly ready: StackReady,
  ) {
    child.on('message', (message: StackAnswer) => {
      const waiting = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      if (message.ok) waiting?.resolve(message.value);
      else waiting?.reject(new Error(message.error));
    });
  }

  static start(options: BenchStackOptions, env: NodeJS.ProcessEnv): Promise<StackProcess> {
    // The Graph stand-in holds the directory (a million users: a few GiB); Azurite, started from it, inherits NODE_OPTIONS and holds the queue.
    const child = fork(join(__dirname, 'stack-process.js'), [], {
      env: { ...env, BENCH_STACK_OPTIONS: JSON.stringify(options), NODE_OPTIONS: '--max-old-space-size=8192' },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    return new Promise((resolve, reject) => {
      child.once('message', (message: StackReady) => resolve(new StackProcess(child, message)));
      child.once('exit', (code) => reject(new Error(`the stack process exited (${code ?? 'signal'}) before it was ready`)));
    });
  }

  command<T>(command: StackCommand extends infer C ? (C extends unknown ? Omit<C, 'id'> : never) : never): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ ...command, id });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    if (this.child.connected) await this.command({ cmd: 'stop' }).catch(() => undefined);
    else this.child.kill('SIGTERM');
    await exited;
    clearTimeout(timer);
  }
}

/** One scenario process: its report, or an error with what it printed. */
export function runScenario(script: string, env: NodeJS.ProcessEnv, cpuProfDir: string | undefined): Promise<ScenarioReport> {
  const execArgv = [
    '--expose-gc',
    ...(cpuProfDir === undefined
      ? []
      : ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, `--cpu-prof-name=${script.replace(/\.js$/, '')}-${Date.now()}.cpuprofile`]),
  ];
  const child = fork(join(__dirname, script), [], { env, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let report: ScenarioReport | undefined;
    child.on('message', (message: ScenarioReport) => (report = message));
    child.on('exit', (code, signal) => {
      if (report !== undefined) resolve(report);
      else reject(new Error(`${script} exited (${code ?? signal ?? ''}) without a report`));
    });
  });
}
