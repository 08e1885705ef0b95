import { createRequire } from 'node:module';
import type * as LocalTelemetryModule from './telemetry';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { readSettings } from '../shared';
import { spawnForwarding } from './child';
import { ExitCode, invokeDryRun, invokeSync, onShutdown, parseAllowRemovals, parseCommandArgs, runCommand, scheduleRuns, UsageError } from './invoke';

/**
 * `npm run sync -- --once [--settings local.settings.json] [--full] [--allow-removals N] [--telemetry]`: the Function's handler against
 * whatever settings the environment holds (a real tenant included). With --settings, the file's
 * Values fill in what the environment does not set. Exit 0 on success, 1 on a failed run,
 * 2 on bad settings or arguments. Without --once it keeps firing on SYNC_SCHEDULE until Ctrl-C.
 */
const usage = `usage: npm run sync -- [--once] [--settings FILE] [--full] [--allow-removals N] [--dry-run] [--telemetry]
  Runs the Function's handler with the settings of the environment (a real tenant included).
  --once               one run, then exit (otherwise: one run now, then on SYNC_SCHEDULE until Ctrl-C)
  --settings FILE      a local.settings.json whose Values fill in what the environment does not set
  --full               the first run sends a full snapshot whatever SYNC_MODE says (in delta mode it renews the delta link)
  --allow-removals N   the first run may send up to N removals past the mass-deletion guard (SYNC_MAX_REMOVALS)
  --dry-run            with --once: read as the run would, write nothing (no message, no checkpoint), say what it would send
  --telemetry          print each run's OpenTelemetry spans (a tree) and metrics (a table), kept in memory
  -h, --help         this text
Exit status: 0 ok, 1 a failed run, 2 bad settings or arguments.`;

async function main(): Promise<number> {
  const values = parseCommandArgs({
    once: { type: 'boolean', default: false },
    settings: { type: 'string' },
    full: { type: 'boolean', default: false },
    'allow-removals': { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    telemetry: { type: 'boolean', default: false },
  });
  if (values['dry-run'] && !values.once) throw new UsageError('--dry-run needs --once: a dry run is one run, e.g. npm run sync -- --once --dry-run');
  const allowRemovals = parseAllowRemovals(values['allow-removals']);
  const request = { forceFull: values.full, ...(allowRemovals === undefined ? {} : { allowRemovals }) };
  if (values.settings !== undefined) {
    let parsed: { Values?: Record<string, unknown> };
    try {
      parsed = JSON.parse(await readFile(values.settings, 'utf8')) as { Values?: Record<string, unknown> };
    } catch (error) {
      throw new UsageError(`--settings ${values.settings}: cannot read it as local.settings.json (${error instanceof Error ? error.message : String(error)})`);
    }
    const startedWith = process.env['NODE_EXTRA_CA_CERTS'] ?? '';
    for (const [name, value] of Object.entries(parsed.Values ?? {})) {
      if (typeof value === 'string' && value !== '' && (process.env[name] ?? '') === '') process.env[name] = value;
    }
    // Node reads NODE_EXTRA_CA_CERTS only at start: a file that names one (npm run local:stack writes its
    // certificate there) is honoured by running this command again as a child that starts with it.
    const ca = process.env['NODE_EXTRA_CA_CERTS'] ?? '';
    if (ca !== startedWith) {
      if (!existsSync(ca)) {
        throw new UsageError(
          `--settings ${values.settings}: NODE_EXTRA_CA_CERTS names ${ca}, which does not exist (is npm run local:stack still running? it removes its certificate when it stops)`,
        );
      }
      return rerunTrusting(ca);
    }
  }
  const source =
    values.settings === undefined
      ? 'the environment (npm run sync reads exported variables only; --settings local.settings.json adds that file)'
      : `the environment and ${values.settings} (--settings; its Values fill in what the environment does not set)`;
  const { schedule } = readSettings(process.env, { source });
  // The SDK with in-memory exporters, loaded only with the flag.
  const local = values.telemetry ? (createRequire(__filename)('./telemetry') as typeof LocalTelemetryModule) : undefined;
  const telemetry = local?.startLocalTelemetry();
  const reported = async <T>(result: T): Promise<T> => {
    if (telemetry !== undefined) await local?.printTelemetry(telemetry);
    return result;
  };
  // SIGTERM / Ctrl-C: the run in progress stops cleanly, saves its checkpoint and says what it left.
  const jobs: ReturnType<typeof scheduleRuns>[] = [];
  onShutdown(() => {
    for (const job of jobs) job.stop();
    return Promise.resolve();
  });
  if (values['dry-run']) return (await reported(await invokeDryRun({ request }))) === undefined ? ExitCode.failed : ExitCode.ok;
  // --full and --allow-removals apply to the first run only: the guard must not stay open by accident.
  if (values.once) return (await reported(await invokeSync({ liveProgress: true, request }))) === undefined ? ExitCode.failed : ExitCode.ok;
  await reported(await invokeSync({ liveProgress: true, request }));
  jobs.push(scheduleRuns(schedule, async () => reported(await invokeSync({ liveProgress: true }))));
  return new Promise<number>(() => undefined); // until Ctrl-C (onShutdown exits)
}

/** This command again, as a child whose Node trusts `ca` from its start; signals forwarded, its exit status returned. */
function rerunTrusting(ca: string): Promise<number> {
  return spawnForwarding(process.execPath, process.argv.slice(1), { stdio: 'inherit', env: { ...process.env, NODE_EXTRA_CA_CERTS: ca } }).exited;
}

runCommand('npm run sync', main, usage);
