import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/**
 * A command run as a child of a wrapper (with-trust, scan-run, sync's re-run with a trusted
 * certificate): `node` means this Node; SIGINT and SIGTERM reach the child; `exited` is the exit
 * status to pass on (130 for a child ended by SIGINT, 1 for any other signal), once its output is
 * closed.
 */
export function spawnForwarding(command: string, args: readonly string[], options: SpawnOptions): { child: ChildProcess; exited: Promise<number> } {
  const child = spawn(command === 'node' ? process.execPath : command, args, options);
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const exited = new Promise<number>((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : 1))));
  return { child, exited };
}
