import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';

/**
 * npm run bench's cold start: how long the Functions worker takes to load the entry it is pointed
 * at (package.json `main`: dist/functions/*.js), i.e. `require` of dist/functions/syncUsers.js in a
 * fresh Node, as plain tsc output (what ships) and as esbuild bundles of the same entry built to
 * a temporary directory under dist/. Each load must reach the timer's registration (outside the host,
 * @azure/functions says it skips registering "syncUsers"), or the variant does not count as working.
 * The loads alternate between the variants, `repetitions` each; the median is reported.
 */

export interface ColdStartVariant {
  label: string;
  /** Median `require` time, ms (in the loading process, from before the require to after it). */
  medianRequireMs: number;
  /** Median time from spawning Node to its exit, ms (Node's own start included). */
  medianProcessMs: number;
  /** Bytes of JavaScript the entry loads from the project (tsc: dist/functions + dist/shared; bundle: the one file). */
  bytes: number | undefined;
  /** Whether every load reached the registration of syncUsers. */
  registers: boolean;
  error?: string;
}

export interface ColdStartReport {
  repetitions: number;
  variants: ColdStartVariant[];
}

const loader = `const t = performance.now(); require(process.argv[1]); process.stdout.write(JSON.stringify({ ms: performance.now() - t })); process.exit(0);`;

function loadOnce(file: string): Promise<{ requireMs: number; processMs: number; registers: boolean; error?: string }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const env = { ...process.env };
    delete env['APPLICATIONINSIGHTS_CONNECTION_STRING'];
    const child = spawn(process.execPath, ['-e', loader, file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => {
      const processMs = performance.now() - started;
      try {
        const { ms } = JSON.parse(out) as { ms: number };
        resolve({ requireMs: ms, processMs, registers: /register function "syncUsers"/.test(err) });
      } catch {
        resolve({
          requireMs: Number.NaN,
          processMs,
          registers: false,
          error: `exit ${code}: ${err.split('\n').find((line) => /Error/.test(line)) ?? err.trim().slice(0, 200)}`,
        });
      }
    });
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function dirBytes(dir: string, names: string[]): number {
  return names.reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

export async function measureColdStart(root: string, repetitions: number): Promise<ColdStartReport> {
  // Inside the project, so that what a bundle leaves out resolves from node_modules as it would in the app.
  const dir = await mkdtemp(join(root, 'dist', '.bench-bundle-'));
  try {
    const variants: { label: string; file: string; bytes: number | undefined; error?: string }[] = [];
    const js = (sub: string): number =>
      dirBytes(
        join(root, sub),
        readdirSync(join(root, sub)).filter((f) => f.endsWith('.js')),
      );
    variants.push({ label: 'tsc output (ships)', file: join(root, 'dist', 'functions', 'syncUsers.js'), bytes: js('dist/functions') + js('dist/shared') });
    // Both bundles keep @azure/functions-core out: only the Functions worker provides it (outside
    // it, @azure/functions falls back to test mode). The first keeps @azure/functions out too, as a
    // shipped bundle must: functions/sync-users/telemetry.ts has OpenTelemetry's instrumentation patch
    // @azure/functions when it is required from node_modules, and a copy inlined in the bundle
    // would be a second, unpatched instance, the one the timer is registered with.
    const bundles = [
      { label: 'esbuild, @azure/functions external', file: 'syncUsers.external.js', external: ['@azure/functions-core', '@azure/functions'] },
      { label: 'esbuild, all inlined', file: 'syncUsers.all.js', external: ['@azure/functions-core'] },
    ];
    for (const bundle of bundles) {
      const file = join(dir, bundle.file);
      try {
        await build({
          entryPoints: [join(root, 'functions', 'syncUsers.ts')],
          bundle: true,
          platform: 'node',
          target: 'node20',
          format: 'cjs',
          outfile: file,
          external: bundle.external,
          logLevel: 'silent',
        });
        variants.push({ label: bundle.label, file, bytes: statSync(file).size });
      } catch (error) {
        variants.push({
          label: bundle.label,
          file,
          bytes: undefined,
          error: `esbuild failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
        });
      }
    }
    const samples = variants.map(() => ({ requireMs: [] as number[], processMs: [] as number[], registers: true, error: undefined as string | undefined }));
    for (let i = 0; i < repetitions; i++) {
      for (const [index, variant] of variants.entries()) {
        const sample = samples[index];
        if (sample === undefined || variant.error !== undefined) continue;
        const result = await loadOnce(variant.file);
        sample.requireMs.push(result.requireMs);
        sample.processMs.push(result.processMs);
        sample.registers &&= result.registers;
        sample.error ??= result.error;
      }
    }
    return {
      repetitions,
      variants: variants.map((variant, index) => {
        const sample = samples[index];
        const error = variant.error ?? sample?.error;
        return {
          label: variant.label,
          medianRequireMs: median(sample?.requireMs ?? []),
          medianProcessMs: median(sample?.processMs ?? []),
          bytes: variant.bytes,
          registers: error === undefined && (sample?.registers ?? false),
          ...(error === undefined ? {} : { error }),
        };
      }),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
