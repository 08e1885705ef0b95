import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { allSettingNames } from '../shared';
import { parseBenchArgs, scenarioLabels, usage, type BenchArgs, type ScenarioKey } from './bench/args';
import { measureColdStart } from './bench/cold-start';
import { runScenario, StackProcess } from './bench/processes';
import type { FreshQueue, RequestCounts, StackCounters } from './bench/protocol';
import { assess, renderTable, writeResults, type BenchResults, type ScenarioResult } from './bench/report';
import { runCommand } from './invoke';

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
  const settings: Record<string, string> = {
    QUEUE_SEND_CONCURRENCY: String(args.concurrency),
    // 1% churn of a million users removes about 3,500: over the default guard's 500, under its 5%.
    SYNC_MAX_REMOVALS: '5%',
    ...(args.parallelReads === undefined ? {} : { GRAPH_PARALLEL_READS: String(args.parallelReads) }),
  };
  process.stdout.write(describeRun(args, settings));

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
            ? {
                latencyMs: model.queueLatencyMs,
                ...(model.queueMessagesPerSecond === undefined ? {} : { messagesPerSecond: model.queueMessagesPerSecond }),
                overLimit: model.queueOverLimit,
                sink: model.queueStore === 'none',
              }
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

function describeRun(args: BenchArgs, settings: Record<string, string>): string {
  const { model } = args;
  const lines = [`npm run bench: ${args.users.toLocaleString('en-US')} users, ${model.name} network model`];
  if (model.name === 'local') lines.push('  local: no added latency; the sync talks to Azurite (in memory) and the stand-ins directly over loopback');
  else {
    lines.push(
      `  azure: Graph page of 999 users ${model.graphMsPer999} ms (smaller pages proportionally: a delta page of 200, ${Math.round((model.graphMsPer999 * 200) / 999)} ms)`,
    );
    lines.push(
      `         queue: +${model.queueLatencyMs} ms per request, at most ${model.queueMessagesPerSecond?.toLocaleString('en-US') ?? '∞'} messages/s per queue (token bucket, 0.1 s burst; over it: ${model.queueOverLimit === 'delay' ? 'the request waits' : '503 ServerBusy'})`,
    );
    lines.push(
      model.queueStore === 'none'
        ? '         the proxy answers each message itself (not stored: Azurite would bound it, and take a core); queue creation and blob checkpoints go to Azurite'
        : '         then forwards each message to Azurite (in memory); blob checkpoints go to Azurite directly',
    );
  }
  lines.push(
    `  sync settings: ${Object.entries(settings)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')} (GRAPH_PARALLEL_READS applies to full mode and to a delta snapshot, which takes its delta link first; a changes run is one walk)`,
  );
  lines.push(`  machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`);
  return lines.join('\n') + '\n\n';
}

async function runScenarios(
  args: BenchArgs,
  stack: StackProcess,
  baseEnv: NodeJS.ProcessEnv,
  settings: Record<string, string>,
  results: BenchResults,
  log: (line: string) => void,
): Promise<void> {
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
  const measure = async (
    key: ScenarioKey | `rss-${number}`,
    script: string,
    queue: string,
    extra: Record<string, string>,
    sink = false,
  ): Promise<ScenarioResult> => {
    const target = sink ? { settings: ready.sinkSettings, queueHost: ready.hosts.sink } : await stack.command<FreshQueue>({ cmd: 'freshQueue' });
    await stack.command({ cmd: 'counters' }); // reset
    const label = key.startsWith('rss-')
      ? `(c) at ${Number(key.slice(4)).toLocaleString('en-US')} users, queue answering at once (sink), for RSS`
      : scenarioLabels[key as ScenarioKey];
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
      ...(report.liveHeapKiB === undefined ? {} : { liveHeapMiB: mib(report.liveHeapKiB) }),
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
    log(
      `  ${report.ok ? 'done' : 'FAILED'} in ${(report.wallMs / 1000).toFixed(1)} s: ${result.rate.toLocaleString('en-US')} ${key === 'ceiling' ? 'msg' : 'users'}/s${result.extrapolated === undefined ? '' : ' (extrapolated)'}, peak RSS ${result.peakRssMiB} MiB${report.ok ? '' : ` (${report.error ?? ''})`}`,
    );
    return result;
  };

  const { parts } = args;
  if (parts.has('ceiling')) results.scenarios.ceiling = await measure('ceiling', 'scenario-ceiling.js', 'bench-ceiling', {});
  if (parts.has('naive'))
    results.scenarios.naive = await measure('naive', 'scenario-naive.js', 'bench-naive', {
      BENCH_CLIENT_SECRET: ready.clientSecret,
      BENCH_NAIVE_MAX_SEND_MS: String(args.naiveMaxSeconds * 1000),
    });
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
      results.rss.push({
        users,
        peakRssMiB: result.peakRssMiB,
        ...(result.liveHeapMiB === undefined ? {} : { liveHeapMiB: result.liveHeapMiB }),
        rate: result.rate,
      });
    }
  }
}

runCommand('npm run bench', main, usage);
