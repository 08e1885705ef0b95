import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { allSettingNames } from '../shared/settings';
import { renderBarChart } from './bench/chart';
import { measureColdStart, type ColdStartReport } from './bench/cold-start';
import type { BenchStackOptions } from './bench/stack-process';
import type { FreshQueue, RequestCounts, ScenarioReport, StackAnswer, StackCommand, StackCounters, StackReady } from './bench/protocol';
import { parseCommandArgs, runCommand, UsageError } from './invoke';

/**
 * `npm run bench`: the sync's throughput, requests and memory against the offline stack, next to
 * what the queue takes alone (the ceiling) and what the quickstart's pattern does (naive), under a
 * network model. Prints figures and says which targets they meet; asserts nothing (no timed test).
 *
 * Processes: this one only orchestrates. The stand-ins and the queue proxy run in a stack process
 * (bench/stack-process.ts), Azurite in its own; each scenario is a fresh process
 * (bench/scenario-*.ts) holding only what it measures, so its peak RSS is its own.
 */

const root = join(__dirname, '..', '..');

const scenarioKeys = ['ceiling', 'naive', 'read', 'full', 'delta', 'delta2'] as const;
type ScenarioKey = (typeof scenarioKeys)[number];
const partKeys = [...scenarioKeys, 'rss', 'coldstart'] as const;
type PartKey = (typeof partKeys)[number];

const scenarioLabels: Record<ScenarioKey, string> = {
  ceiling: '(a) ceiling: pre-encoded messages, same queue and concurrency, nothing else',
  naive: '(b) naive: every page into memory, then one awaited send at a time',
  read: '(r) reading alone: this sync, full mode, queue answering at once (sink)',
  full: '(c) this sync, full mode',
  delta: '(d) this sync, delta mode, first run',
  delta2: '(e) this sync, delta mode, second run after churn',
};
const chartLabels: Record<ScenarioKey, string> = {
  ceiling: '(a) ceiling',
  naive: '(b) naive',
  read: '(r) reading alone',
  full: '(c) full',
  delta: '(d) delta, first',
  delta2: '(e) delta, second',
};

interface NetworkModel {
  name: 'local' | 'azure';
  graphMsPer999: number;
  queueLatencyMs: number;
  queueMessagesPerSecond: number | undefined;
  queueOverLimit: 'delay' | '503';
  /** Where the azure model's proxy puts messages: Azurite, or nowhere (answered by the proxy). */
  queueStore: 'azurite' | 'none';
}

interface ScenarioResult {
  label: string;
  wallMs: number;
  users: number;
  messages: number;
  /** Users (entries) per second; for the ceiling, messages per second. */
  rate: number;
  graphRequests: number;
  queueRequests: number;
  /** Answers of 429/5xx and requests without an answer, as the scenario's process counted them (each one retried). */
  retries: number;
  /** The sync's own figure: time spent on failed attempts and waiting between them. */
  retryMs: number | undefined;
  peakRssMiB: number;
  /** CPU seconds of the scenario's process over its wall time: near 1 means bound by its own CPU (one core). */
  cpuShare: number;
  /** The naive scenario stopped sending early: wall and rate are extrapolated from what it sent. */
  extrapolated?: { sent: number; of: number; sendMs: number };
  proxy?: StackCounters['proxy'];
  notes?: string[];
}

interface BenchResults {
  version: 1;
  date: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string };
  users: number;
  model: NetworkModel;
  settings: Record<string, string>;
  scenarios: Partial<Record<ScenarioKey, ScenarioResult>>;
  churn?: Record<string, number>;
  rss?: { users: number; peakRssMiB: number; rate: number }[];
  coldStart?: ColdStartReport;
  ratios: Record<string, number | undefined>;
  targets: { name: string; value: string; target: string; met: boolean | undefined; note?: string }[];
  totalMs: number;
}

const usage = `usage: npm run bench -- [--users N] [--model local|azure] [options]
  The sync's throughput, requests and peak RSS against the offline stack (stand-ins and Azurite in
  processes of their own), beside (a) the queue's ceiling and (b) the quickstart's naive pattern, then
  (c) full mode, (d) delta first run, (e) delta second run after churn; RSS at 20,000 and 200,000
  users; the function module's cold start. Table on stdout, JSON and an SVG chart in bench/results/.
  --users N                 users in the directory, 1000 to 1000000 (default 100000)
  --model local|azure       network model (default local): local adds nothing; azure adds Graph page
                            latency and the queue's per-request latency and rate cap (below)
  --graph-ms-per-999 MS     azure model: ms for a Graph page of 999 users, smaller pages proportionally (default 1000)
  --queue-latency-ms MS     azure model: added to every queue request (default 5)
  --queue-rate N            azure model: messages/s per queue, 1 to 100000 (default 2000, Azure's published target)
  --queue-over-limit delay|503   azure model: over the rate, hold the request (default) or answer 503 ServerBusy
  --queue-store none|azurite     azure model: the proxy answers each message itself (default: Azurite is slower
                            than Azure's target and takes a core of this machine) or forwards it to Azurite
  --concurrency N           QUEUE_SEND_CONCURRENCY for the sync and the ceiling, 1 to 256 (default 32)
  --parallel-reads N        GRAPH_PARALLEL_READS for the sync, 1 to 16 (default: the sync's own default)
  --churn-percent P         users changed before (e), 0.01 to 50 (default 1)
  --naive-max-seconds S     stop (b)'s sending after S s and extrapolate, 0 for never (default 240)
  --cpu-prof DIR            write a V8 CPU profile of each scenario's process into DIR (node --cpu-prof)
  --only LIST               some of ${partKeys.join(',')} (default all)
  --out DIR                 where the JSON and SVG go (default bench/results)
  -h, --help                this text
Exit status: 0 ok (targets missed included: they are reported), 1 a failed run, 2 bad arguments.`;

function wholeNumber(name: string, text: string, min: number, max: number, example: string): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new UsageError(`--${name} "${text}" must be a whole number from ${min} to ${max}, e.g. --${name} ${example}`);
  return Number(text);
}

function decimal(name: string, text: string, min: number, max: number, example: string): number {
  if (!/^\d+(\.\d+)?$/.test(text) || Number(text) < min || Number(text) > max) throw new UsageError(`--${name} "${text}" must be a number from ${min} to ${max}, e.g. --${name} ${example}`);
  return Number(text);
}

interface BenchArgs {
  users: number;
  model: NetworkModel;
  concurrency: number;
  parallelReads: number | undefined;
  churnPercent: number;
  naiveMaxSeconds: number;
  parts: Set<PartKey>;
  out: string;
  cpuProfDir: string | undefined;
}

function parseBenchArgs(args: string[]): BenchArgs {
  const values = parseCommandArgs(
    {
      users: { type: 'string', default: '100000' },
      model: { type: 'string', default: 'local' },
      'graph-ms-per-999': { type: 'string', default: '1000' },
      'queue-latency-ms': { type: 'string', default: '5' },
      'queue-rate': { type: 'string', default: '2000' },
      'queue-over-limit': { type: 'string', default: 'delay' },
      'queue-store': { type: 'string', default: 'none' },
      concurrency: { type: 'string', default: '32' },
      'parallel-reads': { type: 'string' },
      'churn-percent': { type: 'string', default: '1' },
      'naive-max-seconds': { type: 'string', default: '240' },
      only: { type: 'string', default: partKeys.join(',') },
      'cpu-prof': { type: 'string' },
      out: { type: 'string', default: join('bench', 'results') },
    },
    args,
  );
  const users = wholeNumber('users', values.users.replace(/_/g, ''), 1000, 1_000_000, '100000');
  if (values.model !== 'local' && values.model !== 'azure') throw new UsageError(`--model "${values.model}" must be local or azure`);
  if (values['queue-over-limit'] !== 'delay' && values['queue-over-limit'] !== '503') throw new UsageError(`--queue-over-limit "${values['queue-over-limit']}" must be delay or 503`);
  if (values['queue-store'] !== 'none' && values['queue-store'] !== 'azurite') throw new UsageError(`--queue-store "${values['queue-store']}" must be none or azurite`);
  const azure = values.model === 'azure';
  const model: NetworkModel = {
    name: values.model,
    graphMsPer999: azure ? decimal('graph-ms-per-999', values['graph-ms-per-999'], 0, 60_000, '1000') : 0,
    queueLatencyMs: azure ? decimal('queue-latency-ms', values['queue-latency-ms'], 0, 1000, '5') : 0,
    queueMessagesPerSecond: azure ? wholeNumber('queue-rate', values['queue-rate'], 1, 100_000, '2000') : undefined,
    queueOverLimit: values['queue-over-limit'],
    queueStore: azure ? values['queue-store'] : 'azurite',
  };
  const parts = new Set<PartKey>();
  for (const part of values.only.split(',').map((p) => p.trim())) {
    if (!(partKeys as readonly string[]).includes(part)) throw new UsageError(`--only "${values.only}": "${part}" is not one of ${partKeys.join(', ')}`);
    parts.add(part as PartKey);
  }
  if (parts.has('delta2') && !parts.has('delta')) throw new UsageError('--only: delta2 (the second delta run) needs delta (the first run, which gives it its delta link)');
  return {
    users,
    model,
    concurrency: wholeNumber('concurrency', values.concurrency, 1, 256, '32'),
    parallelReads: values['parallel-reads'] === undefined ? undefined : wholeNumber('parallel-reads', values['parallel-reads'], 1, 16, '4'),
    churnPercent: decimal('churn-percent', values['churn-percent'], 0.01, 50, '1'),
    naiveMaxSeconds: wholeNumber('naive-max-seconds', values['naive-max-seconds'], 0, 86_400, '240'),
    parts,
    out: values.out,
    cpuProfDir: values['cpu-prof'],
  };
}

/** The stack process: commands over IPC, each answered once. */
class StackProcess {
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
    const child = fork(join(__dirname, 'bench', 'stack-process.js'), [], {
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
function runScenario(script: string, env: NodeJS.ProcessEnv, cpuProfDir: string | undefined): Promise<ScenarioReport> {
  const execArgv = cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, `--cpu-prof-name=${script.replace(/\.js$/, '')}-${Date.now()}.cpuprofile`];
  const child = fork(join(__dirname, 'bench', script), [], { env, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let report: ScenarioReport | undefined;
    child.on('message', (message: ScenarioReport) => (report = message));
    child.on('exit', (code, signal) => {
      if (report !== undefined) resolve(report);
      else reject(new Error(`${script} exited (${code ?? signal ?? ''}) without a report`));
    });
  });
}

const mib = (kib: number): number => Math.round((kib / 1024) * 10) / 10;

function requestsTo(counts: RequestCounts, host: string): { requests: number; retries: number } {
  const entry = counts[host];
  return { requests: entry?.requests ?? 0, retries: (entry?.failed ?? 0) + (entry?.errors ?? 0) };
}

async function main(): Promise<number> {
  const args = parseBenchArgs(process.argv.slice(2));
  const started = Date.now();
  const { model } = args;
  const log = (line: string): boolean => process.stderr.write(`${line}\n`);
  const parallelReadsKnown = allSettingNames.includes('GRAPH_PARALLEL_READS');
  const settings: Record<string, string> = {
    QUEUE_SEND_CONCURRENCY: String(args.concurrency),
    // 1% churn of a million users removes about 3,500: over the default guard's 500, under its 5%.
    SYNC_MAX_REMOVALS: '5%',
    ...(args.parallelReads === undefined ? {} : { GRAPH_PARALLEL_READS: String(args.parallelReads) }),
  };
  process.stdout.write(describeRun(args, settings, parallelReadsKnown));

  const results: BenchResults = {
    version: 1,
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    users: args.users,
    model,
    settings,
    scenarios: {},
    ratios: {},
    targets: [],
    totalMs: 0,
  };

  if (args.parts.has('coldstart')) {
    log('cold start: loading the function module, tsc output and esbuild bundle, 10 times each…');
    results.coldStart = await measureColdStart(root, 10);
  }

  const needsStack = [...args.parts].some((p) => p !== 'coldstart');
  if (needsStack) {
    // A clean environment for the children: none of the user's own app settings leak into the runs.
    const baseEnv: NodeJS.ProcessEnv = { ...process.env };
    for (const name of allSettingNames) Reflect.deleteProperty(baseEnv, name);
    log(`starting the stack (stand-ins, Azurite${model.name === 'azure' ? ', the queue proxy' : ''}) with ${args.users.toLocaleString('en-US')} users…`);
    const stack = await StackProcess.start(
      {
        users: args.users,
        graphMsPer999: model.graphMsPer999,
        queue:
          model.name === 'azure'
            ? { latencyMs: model.queueLatencyMs, ...(model.queueMessagesPerSecond === undefined ? {} : { messagesPerSecond: model.queueMessagesPerSecond }), overLimit: model.queueOverLimit, sink: model.queueStore === 'none' }
            : undefined,
      },
      baseEnv,
    );
    // Ctrl-C or SIGTERM ends this process as usual: the stack process sees its IPC channel close and stops Azurite.
    try {
      await runScenarios(args, stack, baseEnv, settings, results, log);
    } finally {
      await stack.stop();
    }
  }

  results.totalMs = Date.now() - started;
  assess(args, results);
  process.stdout.write(renderTable(results));
  const written = await writeResults(args.out, results);
  process.stdout.write(`\nWrote ${written.join(', ')}. Whole run: ${(results.totalMs / 1000).toFixed(0)} s.\n`);
  const failed = Object.values(results.scenarios).filter((s) => s.notes?.some((n) => n.startsWith('FAILED')));
  return failed.length > 0 ? 1 : 0;
}

function describeRun(args: BenchArgs, settings: Record<string, string>, parallelReadsKnown: boolean): string {
  const { model } = args;
  const lines = [`npm run bench: ${args.users.toLocaleString('en-US')} users, ${model.name} network model`];
  if (model.name === 'local') lines.push('  local: no added latency; the sync talks to Azurite (in memory) and the stand-ins directly over loopback');
  else {
    lines.push(`  azure: Graph page of 999 users ${model.graphMsPer999} ms (smaller pages proportionally: a delta page of 200, ${Math.round((model.graphMsPer999 * 200) / 999)} ms)`);
    lines.push(`         queue: +${model.queueLatencyMs} ms per request, at most ${model.queueMessagesPerSecond?.toLocaleString('en-US') ?? '∞'} messages/s per queue (token bucket, 0.1 s burst; over it: ${model.queueOverLimit === 'delay' ? 'the request waits' : '503 ServerBusy'})`);
    lines.push(
      model.queueStore === 'none'
        ? '         the proxy answers each message itself (not stored: Azurite would bound it, and take a core); queue creation and blob checkpoints go to Azurite'
        : '         then forwards each message to Azurite (in memory); blob checkpoints go to Azurite directly',
    );
  }
  lines.push(`  sync settings: ${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(', ')}` + (settings['GRAPH_PARALLEL_READS'] !== undefined && !parallelReadsKnown ? ' (GRAPH_PARALLEL_READS is not read by this version of the sync: ignored)' : ''));
  lines.push(`  machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`);
  return lines.join('\n') + '\n\n';
}

async function runScenarios(args: BenchArgs, stack: StackProcess, baseEnv: NodeJS.ProcessEnv, settings: Record<string, string>, results: BenchResults, log: (line: string) => void): Promise<void> {
  const { ready } = stack;
  const env = (appSettings: Record<string, string>, queue: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    ...baseEnv,
    ...appSettings,
    ...ready.identityEnvironment,
    ...settings,
    USERS_QUEUE_NAME: queue,
    BENCH_USERS: String(args.users),
    ...extra,
  });

  /** One scenario in its own process, against a fresh queue (FreshQueue in protocol.ts) or the sink. */
  const measure = async (key: ScenarioKey | `rss-${number}`, script: string, queue: string, extra: Record<string, string>, sink = false): Promise<ScenarioResult> => {
    const target = sink ? { settings: ready.sinkSettings, queueHost: ready.hosts.sink } : await stack.command<FreshQueue>({ cmd: 'freshQueue' });
    await stack.command({ cmd: 'counters' }); // reset
    const label = key.startsWith('rss-') ? `(c) at ${Number(key.slice(4)).toLocaleString('en-US')} users, queue answering at once (sink), for RSS` : scenarioLabels[key as ScenarioKey];
    log(`${label}: running…`);
    const report = await runScenario(script, env(target.settings, queue, extra), args.cpuProfDir);
    const counters = await stack.command<StackCounters>({ cmd: 'counters' });
    const queueCounts = requestsTo(report.requests, target.queueHost);
    const graph = requestsTo(report.requests, ready.hosts.graph);
    const summary = report.details?.['summary'] as { retryMs?: number } | undefined;
    const result: ScenarioResult = {
      label,
      wallMs: Math.round(report.wallMs),
      users: report.users,
      messages: report.messages,
      rate: 0,
      graphRequests: counters.graph.requests,
      queueRequests: queueCounts.requests,
      retries: queueCounts.retries + graph.retries,
      retryMs: summary?.retryMs,
      peakRssMiB: mib(report.maxRssKiB),
      cpuShare: Math.round((report.cpuMs / Math.max(1, report.wallMs)) * 100) / 100,
      ...(counters.proxy === undefined || sink ? {} : { proxy: counters.proxy }),
    };
    const phases = report.details as { readMs?: number; sendMs?: number; complete?: boolean } | undefined;
    if (key === 'naive' && report.ok && phases?.complete === false && report.messages > 0) {
      // Stopped early (--naive-max-seconds): one awaited send at a time is a steady rate, scaled to every message.
      const sendMs = phases.sendMs ?? 0;
      result.wallMs = Math.round((phases.readMs ?? 0) + (sendMs * report.users) / report.messages);
      result.extrapolated = { sent: report.messages, of: report.users, sendMs: Math.round(sendMs) };
    }
    const rateOf = key === 'ceiling' ? report.messages : report.users;
    result.rate = Math.round((rateOf / Math.max(1, result.wallMs)) * 1000);
    if (!report.ok) result.notes = [`FAILED: ${report.error ?? 'no error given'}`];
    log(`  ${report.ok ? 'done' : 'FAILED'} in ${(report.wallMs / 1000).toFixed(1)} s: ${result.rate.toLocaleString('en-US')} ${key === 'ceiling' ? 'msg' : 'users'}/s${result.extrapolated === undefined ? '' : ' (extrapolated)'}, peak RSS ${result.peakRssMiB} MiB${report.ok ? '' : ` (${report.error ?? ''})`}`);
    return result;
  };

  const { parts } = args;
  if (parts.has('ceiling')) results.scenarios.ceiling = await measure('ceiling', 'scenario-ceiling.js', 'bench-ceiling', {});
  if (parts.has('naive')) results.scenarios.naive = await measure('naive', 'scenario-naive.js', 'bench-naive', { BENCH_CLIENT_SECRET: ready.clientSecret, BENCH_NAIVE_MAX_SEND_MS: String(args.naiveMaxSeconds * 1000) });
  if (parts.has('read')) results.scenarios.read = await measure('read', 'scenario-sync.js', 'bench-read', { SYNC_MODE: 'full' }, true);
  if (parts.has('full')) results.scenarios.full = await measure('full', 'scenario-sync.js', 'bench-full', { SYNC_MODE: 'full' });
  if (parts.has('delta')) results.scenarios.delta = await measure('delta', 'scenario-sync.js', 'bench-delta', { SYNC_MODE: 'delta' });
  if (parts.has('delta2')) {
    log(`churn: ${args.churnPercent}% of the users change…`);
    results.churn = await stack.command<Record<string, number>>({ cmd: 'churn', percent: args.churnPercent });
    results.scenarios.delta2 = await measure('delta2', 'scenario-sync.js', 'bench-delta', { SYNC_MODE: 'delta' });
  }
  if (parts.has('rss')) {
    // Against the sink: the sync then reads and allocates as fast as it can, the hardest case for its
    // memory (what it holds is bounded by the pages it reads ahead, not by the queue), and Azurite's
    // slowdown as it fills (FreshQueue) does not stretch a 200,000-message run.
    results.rss = [];
    for (const users of [20_000, 200_000]) {
      log(`seeding ${users.toLocaleString('en-US')} users…`);
      await stack.command({ cmd: 'seed', users });
      const result = await measure(`rss-${users}`, 'scenario-sync.js', `bench-rss-${users}`, { SYNC_MODE: 'full', BENCH_USERS: String(users) }, true);
      results.rss.push({ users, peakRssMiB: result.peakRssMiB, rate: result.rate });
    }
  }
}

function assess(args: Pick<BenchArgs, 'users' | 'model'>, results: BenchResults): void {
  const s = results.scenarios;
  const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined || b === undefined || b === 0 ? undefined : Math.round((a / b) * 100) / 100);
  results.ratios = {
    'c/a': ratio(s.full?.rate, s.ceiling?.rate),
    'c/b': ratio(s.full?.rate, s.naive?.rate),
    'e/c wall': ratio(s.delta2?.wallMs, s.full?.wallMs),
    'rss 200k/20k': ratio(results.rss?.find((r) => r.users === 200_000)?.peakRssMiB, results.rss?.find((r) => r.users === 20_000)?.peakRssMiB),
  };
  const targets: BenchResults['targets'] = [];
  const show = (n: number | undefined, digits = 2): string => (n === undefined ? 'not measured' : n.toFixed(digits));
  const add = (name: string, value: number | undefined, target: string, met: (v: number) => boolean, valueText = show(value), note?: string): void => {
    targets.push({ name, value: valueText, target, met: value === undefined ? undefined : met(value), ...(note === undefined ? {} : { note }) });
  };
  if (args.model.name === 'local') {
    add('(c)/(a): this sync against the ceiling', results.ratios['c/a'], '≥ 0.95', (v) => v >= 0.95);
    add('(c)/(b): this sync against naive', results.ratios['c/b'], '≥ 1.8', (v) => v >= 1.8);
  } else {
    const cap = args.model.queueMessagesPerSecond ?? 2000;
    const readRate = s.read?.rate;
    const graphBound = readRate !== undefined && readRate < cap;
    add(
      `(c) users/s on one queue (cap ${cap.toLocaleString('en-US')}/s)`,
      s.full?.rate,
      `≥ ${Math.round(0.95 * cap).toLocaleString('en-US')} while Graph is not the bottleneck`,
      (v) => v >= 0.95 * cap,
      s.full === undefined ? 'not measured' : s.full.rate.toLocaleString('en-US'),
      readRate === undefined ? undefined : graphBound ? `Graph is the bottleneck: reading alone gives ${readRate.toLocaleString('en-US')} users/s` : `reading alone: ${readRate.toLocaleString('en-US')} users/s`,
    );
    const alone = s.read === undefined || s.ceiling === undefined ? undefined : Math.max(s.read.wallMs, s.ceiling.wallMs);
    add('(c) wall / max(reading alone, ceiling): reading and sending overlap', ratio(s.full?.wallMs, alone), '≤ 1.1', (v) => v <= 1.1);
    add('(c)/(b): this sync against naive', results.ratios['c/b'], '≥ 8', (v) => v >= 8);
  }
  add('RSS(200k) / RSS(20k), this sync, full mode', results.ratios['rss 200k/20k'], '≤ 1.3', (v) => v <= 1.3);
  if (args.users >= 1_000_000 && args.model.name === 'azure') add('(c) wall at 1,000,000 users, azure model', s.full === undefined ? undefined : s.full.wallMs / 60_000, '≤ 10 min', (v) => v <= 10, s.full === undefined ? 'not measured' : `${(s.full.wallMs / 60_000).toFixed(1)} min`);
  add('(e) wall / (c) wall: delta second run against a full run', results.ratios['e/c wall'], '< 0.05 (1/20)', (v) => v < 0.05);
  results.targets = targets;
}

function renderTable(results: BenchResults): string {
  const rows: string[][] = [['scenario', 'wall s', 'users/s', 'Graph req', 'queue req', 'retries', 'peak RSS MiB', 'CPU/wall']];
  for (const key of scenarioKeys) {
    const r = results.scenarios[key];
    if (r === undefined) continue;
    rows.push([
      chartLabels[key] + (r.extrapolated === undefined ? '' : ' *'),
      (r.wallMs / 1000).toFixed(1),
      `${r.rate.toLocaleString('en-US')}${key === 'ceiling' ? ' msg/s' : ''}`,
      r.graphRequests.toLocaleString('en-US'),
      r.queueRequests.toLocaleString('en-US'),
      `${r.retries}${r.retryMs ? ` (${r.retryMs} ms)` : ''}`,
      r.peakRssMiB.toFixed(1),
      r.cpuShare.toFixed(2),
    ]);
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  const lines = rows.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  '));
  const out = ['', ...lines];
  for (const key of scenarioKeys) {
    const r = results.scenarios[key];
    if (r?.extrapolated !== undefined) out.push(`* ${chartLabels[key]}: sent ${r.extrapolated.sent.toLocaleString('en-US')} of ${r.extrapolated.of.toLocaleString('en-US')} messages in ${(r.extrapolated.sendMs / 1000).toFixed(0)} s, then stopped (--naive-max-seconds); its wall time is its reading plus that sending time scaled to all messages.`);
    for (const note of r?.notes ?? []) out.push(`${chartLabels[key]}: ${note}`);
    if (r?.proxy !== undefined) out.push(`${chartLabels[key]}: queue proxy saw ${r.proxy.messages.toLocaleString('en-US')} messages, ${r.proxy.throttled} answered 503, ${(r.proxy.waitedMs / 1000).toFixed(1)} s of waits for the rate cap in total`);
  }
  if (results.churn !== undefined) out.push(`churn before (e): ${Object.entries(results.churn).map(([k, v]) => `${v} ${k}`).join(', ')}`);
  if (results.rss !== undefined) out.push(`peak RSS of this sync, full mode, queue answering at once (sink): ${results.rss.map((r) => `${r.users.toLocaleString('en-US')} users ${r.peakRssMiB} MiB (${r.rate.toLocaleString('en-US')} users/s)`).join(', ')}`);
  if (results.coldStart !== undefined) {
    out.push(`cold start, require of the function module (median of ${results.coldStart.repetitions}; whole node process in brackets):`);
    for (const v of results.coldStart.variants) {
      out.push(`  ${v.label.padEnd(36)} ${v.error !== undefined ? v.error : `${v.medianRequireMs.toFixed(0)} ms (${v.medianProcessMs.toFixed(0)} ms), ${v.bytes === undefined ? '?' : (v.bytes / 1024).toFixed(0)} KiB, ${v.registers ? 'registers syncUsers' : 'did NOT register syncUsers'}`}`);
    }
  }
  out.push('', 'ratios: ' + Object.entries(results.ratios).map(([k, v]) => `${k} ${v === undefined ? '–' : v}`).join(', '), 'targets:');
  for (const t of results.targets) out.push(`  ${t.met === undefined ? 'n/a   ' : t.met ? 'met   ' : 'MISSED'}  ${t.name}: ${t.value} (target ${t.target})${t.note === undefined ? '' : `; ${t.note}`}`);
  return out.join('\n') + '\n';
}

/** The JSON of this run (dated) and latest.json, and the chart from the newest run of each model at this size. */
async function writeResults(dir: string, results: BenchResults): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const stamp = results.date.slice(0, 16).replace(/[:T]/g, '-');
  const name = `${stamp}-${results.model.name}-${results.users}.json`;
  const text = JSON.stringify(results, null, 2) + '\n';
  await writeFile(join(dir, name), text);
  await writeFile(join(dir, 'latest.json'), text);
  const written = [join(dir, name), join(dir, 'latest.json')];
  if (Object.keys(results.scenarios).length === 0) return written;
  const newest: Partial<Record<NetworkModel['name'], BenchResults>> = {};
  const files = existsSync(dir) ? (await readdir(dir)).filter((f) => new RegExp(`^\\d{4}-.*-(local|azure)-${results.users}\\.json$`).test(f)).sort() : [];
  for (const file of files) {
    const parsed = JSON.parse(await readFile(join(dir, file), 'utf8')) as BenchResults;
    if (Object.keys(parsed.scenarios).length > 0) newest[parsed.model.name] = parsed;
  }
  const series = (['local', 'azure'] as const).flatMap((m) => {
    const run = newest[m];
    if (run === undefined) return [];
    return [{ label: `${m} model (${run.date.slice(0, 10)})`, color: m === 'local' ? '#4e79a7' : '#f28e2b', values: Object.fromEntries(scenarioKeys.map((k) => [k, run.scenarios[k]?.rate])) }];
  });
  const svg = renderBarChart({
    title: `graph-user-sync, ${results.users.toLocaleString('en-US')} users`,
    subtitle: 'npm run bench: users/s per scenario ((a): messages/s); higher is better',
    unit: 'users/s',
    categories: scenarioKeys.map((k) => ({ key: k, label: chartLabels[k] })),
    series,
  });
  const chart = join(dir, `chart-${results.users}.svg`);
  await writeFile(chart, svg);
  return [...written, chart];
}

runCommand('npm run bench', main, usage);
