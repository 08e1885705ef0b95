import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { readSettings, SettingsError } from '../shared/settings';
import { invokeSync, onShutdown, runCommand, scheduleRuns } from './invoke';

/**
 * `npm run sync -- --once [--settings local.settings.json]`: the Function's handler against
 * whatever settings the environment holds (a real tenant included). With --settings, the file's
 * Values fill in what the environment does not set. Exit 0 on success, 1 on a failed run,
 * 2 on bad settings or arguments. Without --once it keeps firing on SYNC_SCHEDULE until Ctrl-C.
 */
async function main(): Promise<number> {
  const { values } = parseArgs({ options: { once: { type: 'boolean', default: false }, settings: { type: 'string' } } });
  if (values.settings !== undefined) {
    let parsed: { Values?: Record<string, unknown> };
    try {
      parsed = JSON.parse(await readFile(values.settings, 'utf8')) as { Values?: Record<string, unknown> };
    } catch (error) {
      process.stderr.write(`--settings ${values.settings}: cannot read it as local.settings.json (${error instanceof Error ? error.message : String(error)})\n`);
      return 2;
    }
    for (const [name, value] of Object.entries(parsed.Values ?? {})) {
      if (typeof value === 'string' && value !== '' && (process.env[name] ?? '') === '') process.env[name] = value;
    }
  }
  let schedule: string;
  try {
    schedule = readSettings(process.env).schedule;
  } catch (error) {
    if (error instanceof SettingsError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  // SIGTERM / Ctrl-C: the run in progress stops cleanly, saves its checkpoint and says what it left.
  const jobs: ReturnType<typeof scheduleRuns>[] = [];
  onShutdown(() => {
    for (const job of jobs) job.stop();
    return Promise.resolve();
  });
  if (values.once) return (await invokeSync({ liveProgress: true })) === undefined ? 1 : 0;
  await invokeSync({ liveProgress: true });
  jobs.push(scheduleRuns(schedule, () => invokeSync({ liveProgress: true })));
  return new Promise<number>(() => undefined); // until Ctrl-C (onShutdown exits)
}

runCommand('npm run sync', main);
