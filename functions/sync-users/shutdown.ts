/**
 * Stopping cleanly. The host stops workers on scale-in and deployment with SIGTERM; a run going
 * on then stops reading Graph, drains the sends in flight, saves its checkpoint and releases the
 * run lock (runSync does all that when its abort signal fires), so that the next run or the
 * host's retry resumes it. This module only keeps track of the run in progress and fires it.
 */

interface CurrentRun {
  readonly controller: AbortController;
  readonly settled: Promise<unknown>;
}

let current: CurrentRun | undefined;

/** Called by the handler around each run: `settled` resolves when the run has ended, either way. */
export function trackRun(controller: AbortController, settled: Promise<unknown>): void {
  const run = { controller, settled };
  current = run;
  const clear = (): void => {
    if (current === run) current = undefined;
  };
  settled.then(clear, clear);
}

/**
 * Asks the run in progress (if any) to stop and waits for it to save its state, at most
 * `timeoutMs`. Returns whether a run was going on.
 */
export async function stopCurrentRun(reason: string, timeoutMs = 10_000): Promise<boolean> {
  const run = current;
  if (run === undefined) return false;
  run.controller.abort(new Error(reason));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([run.settled.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  clearTimeout(timer);
  return true;
}

let installed = false;

/**
 * In the Functions worker: on SIGTERM or SIGINT, stop the run in progress cleanly, then let the
 * signal do what it would have done (the listener is removed and the signal raised again).
 */
export function stopRunsOnSignals(): void {
  if (installed) return;
  installed = true;
  const handle = (signal: NodeJS.Signals): void => {
    process.removeListener('SIGTERM', onTerm);
    process.removeListener('SIGINT', onInt);
    void stopCurrentRun(`received ${signal}`).finally(() => process.kill(process.pid, signal));
  };
  const onTerm = (): void => handle('SIGTERM');
  const onInt = (): void => handle('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
}
