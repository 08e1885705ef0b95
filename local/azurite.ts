import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { freePort, isListening, loopbackHost } from './net';

/**
 * The real Azurite (a devDependency), started on free loopback ports and stopped again.
 * Queue only by default; with `blob: true` also blob and table, which `func start` needs for the
 * timer trigger's singleton lease.
 */

/** Azurite's published development account key (not a secret: it is in Microsoft's docs). */
export const azuriteAccountKey = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
export const azuriteAccount = 'devstoreaccount1';

export interface RunningAzurite {
  readonly connectionString: string;
  readonly queueEndpoint: string;
  stop(): Promise<void>;
}

export interface AzuriteOptions {
  blob?: boolean;
  /** Persist here instead of in memory. */
  location?: string;
}

export async function startAzurite(options: AzuriteOptions = {}): Promise<RunningAzurite> {
  const queuePort = await freePort();
  const blobPort = options.blob === true ? await freePort() : undefined;
  const tablePort = options.blob === true ? await freePort() : undefined;
  const bin = require.resolve(options.blob === true ? 'azurite/dist/src/azurite.js' : 'azurite/dist/src/queue/main.js');
  const args = [bin, '--disableTelemetry', '--silent', '--skipApiVersionCheck', '--queueHost', loopbackHost, '--queuePort', String(queuePort)];
  if (options.location === undefined) args.push('--inMemoryPersistence');
  else args.push('--location', options.location);
  if (blobPort !== undefined && tablePort !== undefined) {
    args.push('--blobHost', loopbackHost, '--blobPort', String(blobPort), '--tableHost', loopbackHost, '--tablePort', String(tablePort));
  }
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const stopChild = (): void => {
    if (child.exitCode === null) child.kill('SIGTERM');
  };
  process.once('exit', stopChild);

  try {
    await waitForPort(queuePort, child, () => output);
    if (blobPort !== undefined) await waitForPort(blobPort, child, () => output);
  } catch (error) {
    stopChild();
    throw error;
  }

  const queueEndpoint = `http://${loopbackHost}:${queuePort}/${azuriteAccount}`;
  const parts = [`DefaultEndpointsProtocol=http`, `AccountName=${azuriteAccount}`, `AccountKey=${azuriteAccountKey}`, `QueueEndpoint=${queueEndpoint}`];
  if (blobPort !== undefined) parts.push(`BlobEndpoint=http://${loopbackHost}:${blobPort}/${azuriteAccount}`);
  if (tablePort !== undefined) parts.push(`TableEndpoint=http://${loopbackHost}:${tablePort}/${azuriteAccount}`);
  return {
    connectionString: parts.join(';') + ';',
    queueEndpoint,
    stop: async () => {
      process.removeListener('exit', stopChild);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitForPort(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`Azurite exited with ${child.exitCode} before listening on ${port}:\n${output()}`);
    const open = await isListening(port);
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Azurite did not listen on ${loopbackHost}:${port} within 30 s:\n${output()}`);
}
