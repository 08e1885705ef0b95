import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, isListening, loopbackHost } from './net';

/**
 * The real Azurite (a devDependency), started on free loopback ports and stopped again: the blob
 * and queue services always (the run checkpoint lives in Blob Storage), the table service only
 * with `table: true` (func start needs it), all in one Azurite process. In memory by default;
 * on disk with `persistent: true` (a temporary directory made and removed here) or `location`.
 * On disk it can be stopped and started again on the same ports with the same data (`stopFor`),
 * which is how the queue-down fault takes storage away for a while.
 */

/** Azurite's published development account key (not a secret: it is in Microsoft's docs). */
export const azuriteAccountKey = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
export const azuriteAccount = 'devstoreaccount1';

export type AzuriteService = 'blob' | 'queue' | 'table';
export type AzuriteState = 'running' | 'down' | 'stopped';

export interface RunningAzurite {
  /** Always carries BlobEndpoint and QueueEndpoint (and TableEndpoint with `table: true`). */
  readonly connectionString: string;
  readonly queueEndpoint: string;
  readonly blobEndpoint: string;
  readonly tableEndpoint: string | undefined;
  readonly ports: Readonly<Partial<Record<AzuriteService, number>>>;
  /** The directory the data lives in; undefined in memory. */
  readonly location: string | undefined;
  /** 'down' from the start of a stopFor until Azurite listens again. */
  readonly state: AzuriteState;
  /**
   * Stops the Azurite process now and starts it again `ms` later on the same ports and
   * location; resolves once they listen again. Needs Azurite on disk (in memory it would come
   * back empty). stop() during the outage cancels the restart.
   */
  stopFor(ms: number): Promise<void>;
  /** Resolves when no stopFor is under way. */
  whenUp(): Promise<void>;
  /** Stops the process and removes the temporary directory (persistent: true). */
  stop(): Promise<void>;
}

export interface AzuriteOptions {
  /** Also start the table service (func start needs it besides blob for the timer trigger). */
  table?: boolean;
  /** On disk, in a temporary directory this module creates and removes on stop. */
  persistent?: boolean;
  /** On disk in this existing directory (kept on stop). */
  location?: string;
}

const azuriteEntry = 'azurite/dist/src/azurite.js';
const allServices: readonly AzuriteService[] = ['blob', 'queue', 'table'];

export async function startAzurite(options: AzuriteOptions = {}): Promise<RunningAzurite> {
  const services: readonly AzuriteService[] = options.table === true ? allServices : ['blob', 'queue'];
  // A free port is only free when asked: another process (a test file running beside this one)
  // may take it before Azurite listens, and Azurite then exits (EADDRINUSE). Try other ports then.
  for (let attempt = 1; ; attempt++) {
    const ports: Record<AzuriteService, number> = { blob: await freePort(), queue: await freePort(), table: await freePort() };
    const ownDir = options.location === undefined && options.persistent === true ? await mkdtemp(join(tmpdir(), 'graph-user-sync-azurite-')) : undefined;
    const azurite = new Azurite(services, ports, options.location ?? ownDir, ownDir);
    try {
      await azurite.start();
      return azurite;
    } catch (error) {
      await azurite.stop();
      if (attempt >= 3 || !(error instanceof PortTakenError)) throw error;
    }
  }
}

/** An Azurite service exited before (or just after) listening: most likely its port was taken meanwhile. */
class PortTakenError extends Error {}

class Azurite implements RunningAzurite {
  readonly connectionString: string;
  readonly queueEndpoint: string;
  readonly blobEndpoint: string;
  readonly tableEndpoint: string | undefined;
  #child: ChildProcess | undefined;
  #state: AzuriteState = 'down';
  /** The outage or restart under way (each waits for the one before). */
  #busy: Promise<void> = Promise.resolve();
  #wake: (() => void) | undefined;
  readonly #onExit = (): void => this.#killNow();

  /** The ports of the services asked for (the process listens on a table port as well). */
  readonly ports: Readonly<Partial<Record<AzuriteService, number>>>;

  constructor(
    services: readonly AzuriteService[],
    /** A port for every service of the process. */
    private readonly allPorts: Readonly<Record<AzuriteService, number>>,
    readonly location: string | undefined,
    /** Made here, removed here. */
    private readonly ownDir: string | undefined,
  ) {
    this.ports = Object.fromEntries(services.map((service) => [service, allPorts[service]]));
    const endpoint = (service: AzuriteService): string | undefined =>
      services.includes(service) ? `http://${loopbackHost}:${allPorts[service]}/${azuriteAccount}` : undefined;
    this.blobEndpoint = endpoint('blob') ?? '';
    this.queueEndpoint = endpoint('queue') ?? '';
    this.tableEndpoint = endpoint('table');
    // QueueEndpoint first, as before blob was always on: callers rewrite the first endpoint's port.
    const parts = [
      `DefaultEndpointsProtocol=http`,
      `AccountName=${azuriteAccount}`,
      `AccountKey=${azuriteAccountKey}`,
      `QueueEndpoint=${this.queueEndpoint}`,
      `BlobEndpoint=${this.blobEndpoint}`,
    ];
    if (this.tableEndpoint !== undefined) parts.push(`TableEndpoint=${this.tableEndpoint}`);
    this.connectionString = parts.join(';') + ';';
    process.once('exit', this.#onExit);
  }

  get state(): AzuriteState {
    return this.#state;
  }

  async start(): Promise<void> {
    // One process for every service (Azurite's own entry, `azurite`): it loads its modules once,
    // about 2 s of CPU, where a process per service paid that for each. It always runs the table
    // service too; without `table: true` that port is only not in the connection string.
    const args = [require.resolve(azuriteEntry), '--disableTelemetry', '--silent', '--skipApiVersionCheck'];
    for (const service of allServices) args.push(`--${service}Host`, loopbackHost, `--${service}Port`, String(this.allPorts[service]));
    if (this.location === undefined) args.push('--inMemoryPersistence');
    else args.push('--location', this.location);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (d: Buffer): void => {
      output = (output + d.toString()).slice(-8000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.#child = child;
    await Promise.all(allServices.map((service) => waitForPort(this.allPorts[service], service, child, () => output)));
    // Something else listening on a port also answers waitForPort: make sure ours is still alive.
    await new Promise((r) => setTimeout(r, 100));
    if (child.exitCode !== null || child.signalCode !== null) throw new PortTakenError(`Azurite exited after its ports answered:\n${output}`);
    this.#state = 'running';
  }

  stopFor(ms: number): Promise<void> {
    if (this.location === undefined) {
      return Promise.reject(
        new Error('Azurite runs in memory and would come back empty: start it with persistent: true (or a location) to stop and restart it.'),
      );
    }
    if (this.#state === 'stopped') return Promise.reject(new Error('Azurite has been stopped'));
    const run = this.#busy.then(async () => {
      if (this.#stopped()) return;
      const until = Date.now() + ms;
      this.#state = 'down';
      await this.#stopChild();
      if (this.#stopped()) return;
      await this.#sleep(until - Date.now());
      if (this.#stopped()) return;
      await this.start();
    });
    this.#busy = run.catch(() => undefined);
    return run;
  }

  whenUp(): Promise<void> {
    return this.#busy;
  }

  async stop(): Promise<void> {
    process.removeListener('exit', this.#onExit);
    this.#state = 'stopped';
    this.#wake?.();
    await this.#busy;
    await this.#stopChild();
    if (this.ownDir !== undefined) await rm(this.ownDir, { recursive: true, force: true });
  }

  async #stopChild(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child !== undefined) await stopChild(child);
  }

  /** A method, not a field read, so that the checks after each await are not narrowed away. */
  #stopped(): boolean {
    return this.#state === 'stopped';
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.max(0, ms));
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    }).finally(() => (this.#wake = undefined));
  }

  /** The parent is exiting without stop(): kill the child and remove our directory, synchronously. */
  #killNow(): void {
    const child = this.#child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (this.ownDir !== undefined) rmSync(this.ownDir, { recursive: true, force: true });
  }
}

/** SIGTERM (Azurite closes its stores, saving them when on disk), SIGKILL after 5 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/**
 * How long Azurite may take to listen. It starts in about a second on an idle machine; on a
 * loaded 2-core CI machine (several test files each starting its own Azurite) it was seen taking
 * over 30 s, so the wait is generous: a real failure to start still ends it early (the child exits).
 */
const listenTimeoutMs = 90_000;

async function waitForPort(port: number, service: AzuriteService, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + listenTimeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new PortTakenError(
        `Azurite ${service} exited (${child.exitCode ?? child.signalCode ?? ''}) before listening on ${loopbackHost}:${port}:\n${output()}`,
      );
    if (await isListening(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Azurite ${service} did not listen on ${loopbackHost}:${port} within ${listenTimeoutMs / 1000} s:\n${output()}`);
}
