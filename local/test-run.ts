import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';

/**
 * The test runner `npm test` and .ci/run use (inside with-trust and scan-run):
 *   node dist/local/test-run.js [--concurrency N] [--reporter tap|spec] [--serial] [file-filter...]
 * It finds every dist/test/**\/*.test.js itself and runs each file with `node --test` in a process
 * of its own, several at once (N, default TEST_CONCURRENCY or 4), the slowest first by the
 * durations the last run kept (dist/test/durations.json, git-ignored). The files of `serialGroup`
 * run afterwards one at a time with nothing beside them. Each file's output is printed whole when
 * it ends (never interleaved), as one TAP stream (or spec text) with one plan and one summary;
 * then the ten slowest files and the total. Exit status: 1 when any test or file failed, else 0.
 * `--serial` runs everything one file at a time (the old way, for comparison); a filter keeps the
 * files whose path contains one of the given strings.
 */

/**
 * Files that must not run beside others, each with why. node --test gives every file its own
 * process, so process.env, the managed-identity static state and a file's stack (stand-ins and
 * Azurite on free ports, data in a temporary directory of its own) are never shared; what is left
 * is files whose assertions are about time or throughput and would flake when CPU is shared.
 * Checked by reading test/helpers/stack.ts, local/stack.ts, local/azurite.ts and the tests (no
 * fixed port: every server listens on port 0 or on a freePort(); Azurite's data in a mkdtemp of its
 * own; cli.test.ts runs each command with a TMPDIR and cwd of its own) and by running all 39 files
 * four at a time on this 2-core machine under a load average of 8-14: 555 of 555 passed. So the
 * group is empty; a file that ever flakes beside others goes here, named with the reason, e.g.
 *   'e2e/fault-matrix.test.js': 'queue-down restarts Azurite on the same ports; ...',
 */
export const serialGroup: Readonly<Record<string, string>> = {};

interface Options {
  concurrency: number;
  reporter: 'tap' | 'spec';
  serialOnly: boolean;
  filters: string[];
}

interface FileResult {
  file: string;
  seconds: number;
  /** CPU seconds of the file's processes (user + system), when the platform tells; see childCpuSeconds. */
  cpu: number | undefined;
  code: number;
  output: string;
  counts: Map<string, number>;
  failures: string[];
}

const root = resolve(__dirname, '..', '..');
const testDir = join(root, 'dist', 'test');
const durationsFile = join(testDir, 'durations.json');
const countNames = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo'] as const;

function parseArgs(argv: readonly string[]): Options {
  const fromEnv = Number(process.env['TEST_CONCURRENCY']);
  const options: Options = {
    concurrency: Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : Math.max(2, Math.min(4, availableParallelism() * 2)),
    reporter: process.stdout.isTTY ? 'spec' : 'tap',
    serialOnly: false,
    filters: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--concurrency') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) throw new Error('--concurrency takes a whole number of at least 1');
      options.concurrency = n;
    } else if (arg === '--reporter') {
      const r = argv[++i];
      if (r !== 'tap' && r !== 'spec') throw new Error('--reporter takes tap or spec');
      options.reporter = r;
    } else if (arg === '--serial') options.serialOnly = true;
    else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}`);
    else options.filters.push(arg);
  }
  return options;
}

/** Every *.test.js under dir, as paths relative to dist/test with forward slashes, sorted. */
export function findTestFiles(dir: string = testDir): string[] {
  const found: string[] = [];
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && entry.name.endsWith('.test.js')) found.push(relative(dir, path).split(sep).join('/'));
    }
  };
  walk(dir);
  return found.sort();
}

function readDurations(): Record<string, number> {
  try {
    const parsed = JSON.parse(readFileSync(durationsFile, 'utf8')) as { files?: Record<string, number> };
    return parsed.files ?? {};
  } catch {
    return {};
  }
}

/**
 * CPU seconds (user + system) of every child this process has reaped so far, with their reaped
 * children (node --test's own, Azurite): Linux's cutime + cstime from /proc/self/stat, in clock
 * ticks of 1/100 s (USER_HZ). Read when a child exits, the growth since the last exit is that
 * child's; two files reaped in the same instant are told apart no further (the first gets both).
 * undefined where there is no /proc.
 */
function childCpuSeconds(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the command name (which is in parentheses and may hold spaces); cutime and cstime are fields 16 and 17.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return undefined;
  }
}
let cpuSoFar = childCpuSeconds();

const running = new Set<ChildProcess>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    for (const child of running) child.kill(signal);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

/** Runs one file with node --test, its stdout and stderr kept together, timed. */
function runFile(file: string, reporter: Options['reporter']): Promise<FileResult> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--test', `--test-reporter=${reporter}`, join(testDir, file)], {
    cwd: root,
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const chunks: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => chunks.push(d));
  child.stderr.on('data', (d: Buffer) => chunks.push(d));
  let cpu: number | undefined;
  child.on('exit', () => {
    const now = childCpuSeconds();
    cpu = now === undefined || cpuSoFar === undefined ? undefined : now - cpuSoFar;
    cpuSoFar = now;
  });
  return new Promise((resolveResult) => {
    child.on('close', (code) => {
      running.delete(child);
      const output = Buffer.concat(chunks).toString('utf8');
      const { counts, failures } = summaryOf(output, reporter);
      resolveResult({ file, seconds: (performance.now() - started) / 1000, cpu, code: code ?? 1, output, counts, failures });
    });
  });
}

const summaryLine = (reporter: Options['reporter']): RegExp =>
  reporter === 'tap' ? new RegExp(`^# (${countNames.join('|')}) (\\d+)$`) : new RegExp(`^\\S* ?(${countNames.join('|')}) (\\d+)$`);

function summaryOf(output: string, reporter: Options['reporter']): { counts: Map<string, number>; failures: string[] } {
  const counts = new Map<string, number>();
  const failures: string[] = [];
  const pattern = summaryLine(reporter);
  for (const line of output.split('\n')) {
    const match = pattern.exec(line);
    if (match !== null) counts.set(match[1] ?? '', Number(match[2]));
    const failed = reporter === 'tap' ? /^\s*not ok \d+ - (.*)$/.exec(line) : /^\s*✖ (.*) \([\d.]+m?s\)$/.exec(line);
    if (failed !== null && !/# (SKIP|TODO)/.test(line) && !failures.includes(failed[1] ?? '')) failures.push(failed[1] ?? '');
  }
  return { counts, failures };
}

/**
 * A file's output as part of the one stream: for TAP, without its own version line, plan and
 * summary, the top-level test points numbered on from `next`; for spec, without its summary.
 * Returns the text and the next top-level number.
 */
export function merged(output: string, reporter: Options['reporter'], next: number): { text: string; next: number } {
  const pattern = summaryLine(reporter);
  const lines: string[] = [];
  let n = next;
  for (const line of output.replace(/\n$/, '').split('\n')) {
    if (pattern.test(line) || (reporter === 'spec' && /^\S* ?duration_ms [\d.]+$/.test(line))) continue;
    if (reporter === 'tap') {
      if (line === 'TAP version 13' || /^1\.\.\d+$/.test(line) || /^# duration_ms [\d.]+$/.test(line)) continue;
      const point = /^(not ok|ok) \d+( - .*)?$/.exec(line);
      if (point !== null) {
        lines.push(`${point[1]} ${n++}${point[2] ?? ''}`);
        continue;
      }
    }
    lines.push(line);
  }
  return { text: lines.length === 0 ? '' : `${lines.join('\n')}\n`, next: n };
}

/** Runs `files` at most `concurrency` at a time, in the order given; `onDone` sees each as it ends. */
async function pool(files: readonly string[], concurrency: number, options: Options, onDone: (r: FileResult) => void): Promise<void> {
  const queue = [...files];
  const worker = async (): Promise<void> => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) onDone(await runFile(file, options.reporter));
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
}

const comment = (reporter: Options['reporter'], text: string): string => (reporter === 'tap' ? `# ${text}` : text);

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const all = findTestFiles().filter((f) => options.filters.length === 0 || options.filters.some((s) => f.includes(s)));
  if (all.length === 0) {
    process.stderr.write(
      `test-run: no test files under ${relative(root, testDir)}${options.filters.length > 0 ? ` matching ${options.filters.join(', ')}` : ''} (npm run build first)\n`,
    );
    return 1;
  }
  const known = readDurations();
  // Slowest first (by the last run), unknown files first of all (they may be slow), then by name.
  const bySlowest = (a: string, b: string): number => (known[b] ?? Infinity) - (known[a] ?? Infinity) || (a < b ? -1 : 1);
  const serial = options.serialOnly ? all : all.filter((f) => f in serialGroup);
  const parallel = options.serialOnly ? [] : all.filter((f) => !(f in serialGroup)).sort(bySlowest);

  const r = options.reporter;
  if (r === 'tap') process.stdout.write('TAP version 13\n');
  const results: FileResult[] = [];
  let next = 1;
  const print = (result: FileResult): void => {
    results.push(result);
    const part = merged(result.output, r, next);
    next = part.next;
    process.stdout.write(part.text);
    if (result.code !== 0 && (result.counts.get('fail') ?? 0) === 0)
      process.stdout.write(`${r === 'tap' ? `not ok ${next++} - ` : '✖ '}${result.file} exited with ${result.code} without a failing test\n`);
  };
  const started = performance.now();
  await pool(parallel, options.concurrency, options, print);
  await pool(serial, 1, options, print);
  const wall = (performance.now() - started) / 1000;

  // Kept: this run's times, and the last known ones of files it did not run (a filtered run).
  const times = new Map<string, number>(Object.entries(known));
  for (const x of results) times.set(x.file, Number(x.seconds.toFixed(2)));
  const existing = new Set(findTestFiles());
  const files = Object.fromEntries([...times].filter(([f]) => existing.has(f)).sort(([a], [b]) => (a < b ? -1 : 1)));
  const cpuSeconds = Object.fromEntries(
    results.flatMap((x): [string, number][] => (x.cpu === undefined ? [] : [[x.file, Number(x.cpu.toFixed(2))]])).sort(([a], [b]) => (a < b ? -1 : 1)),
  );
  const kept = {
    written: new Date().toISOString(),
    concurrency: options.serialOnly ? 1 : options.concurrency,
    wallSeconds: Number(wall.toFixed(1)),
    files,
    cpuSeconds,
  };
  writeFileSync(durationsFile, `${JSON.stringify(kept, null, 2)}\n`);

  const total = (name: string): number => results.reduce((sum, x) => sum + (x.counts.get(name) ?? 0), 0);
  const failedFiles = results.filter((x) => x.code !== 0);
  const out: string[] = [];
  if (r === 'tap') out.push(`1..${next - 1}`);
  for (const name of countNames) out.push(r === 'tap' ? `# ${name} ${total(name)}` : `ℹ ${name} ${total(name)}`);
  out.push(comment(r, `files ${results.length}: ${parallel.length} in parallel (${options.concurrency} at a time), ${serial.length} one at a time`));
  out.push(comment(r, 'slowest test files:'));
  const cpuOf = (x: FileResult): string => (x.cpu === undefined ? '' : `  ${x.cpu.toFixed(1).padStart(6)} s CPU`);
  for (const x of [...results].sort((a, b) => b.seconds - a.seconds).slice(0, 10))
    out.push(comment(r, `  ${x.seconds.toFixed(1).padStart(6)} s${cpuOf(x)}  ${x.file}${x.file in serialGroup && !options.serialOnly ? ' (serial)' : ''}`));
  const summed = results.reduce((sum, x) => sum + x.seconds, 0);
  const cpus = results.map((x) => x.cpu);
  const cpuTotal = cpus.every((c) => c !== undefined) ? `, ${cpus.reduce((sum, c) => sum + c, 0).toFixed(1)} s of CPU on ${availableParallelism()} cores` : '';
  out.push(
    comment(
      r,
      `total ${wall.toFixed(1)} s (the files' own times add up to ${summed.toFixed(1)} s${cpuTotal}); durations kept in ${relative(root, durationsFile)}`,
    ),
  );
  if (failedFiles.length > 0) {
    out.push(comment(r, `${failedFiles.length} file${failedFiles.length === 1 ? '' : 's'} failed:`));
    for (const x of failedFiles) out.push(comment(r, `  ${x.file}: ${x.failures.length > 0 ? x.failures.slice(0, 5).join('; ') : `exit ${x.code}`}`));
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return failedFiles.length > 0 || total('fail') > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`test-run: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
