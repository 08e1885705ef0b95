import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chartLabels, scenarioKeys, type BenchArgs, type NetworkModel, type ScenarioKey } from './args';
import { renderBarChart } from './chart';
import type { ColdStartReport } from './cold-start';
import type { StackCounters } from './protocol';

/** npm run bench's results: the targets they meet, the table on stdout, the JSON and the chart. */

export interface ScenarioResult {
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
  /** The largest heap that survived a major GC (protocol.ts trackLiveHeap): what the process held, without garbage. */
  liveHeapMiB?: number;
  /** CPU seconds of the scenario's process over its wall time: near 1 means bound by its own CPU (one core). */
  cpuShare: number;
  /** The naive scenario stopped sending early: wall and rate are extrapolated from what it sent. */
  extrapolated?: { sent: number; of: number; sendMs: number };
  proxy?: StackCounters['proxy'];
  notes?: string[];
}

export interface BenchResults {
  version: 1;
  date: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string };
  users: number;
  model: NetworkModel;
  settings: Record<string, string>;
  scenarios: Partial<Record<ScenarioKey, ScenarioResult>>;
  churn?: Record<string, number>;
  rss?: { users: number; peakRssMiB: number; liveHeapMiB?: number; rate: number }[];
  coldStart?: ColdStartReport;
  ratios: Record<string, number | undefined>;
  targets: { name: string; value: string; target: string; met: boolean | undefined; note?: string }[];
  totalMs: number;
}

export function assess(args: Pick<BenchArgs, 'users' | 'model'>, results: BenchResults): void {
  const s = results.scenarios;
  const ratio = (a: number | undefined, b: number | undefined): number | undefined =>
    a === undefined || b === undefined || b === 0 ? undefined : Math.round((a / b) * 100) / 100;
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
    // Reading alone below the cap: either Graph (the process waits: CPU/wall well under 1) or the
    // sync's own core (CPU/wall near 1; then the ceiling, the same client with nothing else, is too).
    const cpuBound = (s.read?.cpuShare ?? 0) >= 0.9;
    const bound =
      readRate === undefined
        ? undefined
        : readRate >= cap
          ? `reading alone: ${readRate.toLocaleString('en-US')} users/s`
          : cpuBound
            ? `the sync's own core is the bottleneck, not Graph: reading alone gives ${readRate.toLocaleString('en-US')} users/s at CPU/wall ${s.read?.cpuShare ?? ''}` +
              (s.ceiling === undefined
                ? ''
                : `; the ceiling, the same queue client with nothing else, ${s.ceiling.rate.toLocaleString('en-US')} msg/s at CPU/wall ${s.ceiling.cpuShare}`)
            : `Graph is the bottleneck: reading alone gives ${readRate.toLocaleString('en-US')} users/s`;
    add(
      `(c) users/s on one queue (cap ${cap.toLocaleString('en-US')}/s)`,
      s.full?.rate,
      `≥ ${Math.round(0.95 * cap).toLocaleString('en-US')} while Graph is not the bottleneck`,
      (v) => v >= 0.95 * cap,
      s.full === undefined ? 'not measured' : s.full.rate.toLocaleString('en-US'),
      bound,
    );
    const alone = s.read === undefined || s.ceiling === undefined ? undefined : Math.max(s.read.wallMs, s.ceiling.wallMs);
    add('(c) wall / max(reading alone, ceiling): reading and sending overlap', ratio(s.full?.wallMs, alone), '≤ 1.1', (v) => v <= 1.1);
    add('(c)/(b): this sync against naive', results.ratios['c/b'], '≥ 8', (v) => v >= 8);
  }
  const rssAt = (users: number): NonNullable<BenchResults['rss']>[number] | undefined => results.rss?.find((r) => r.users === users);
  const [small, large] = [rssAt(20_000), rssAt(200_000)];
  const liveNote =
    small?.liveHeapMiB === undefined || large?.liveHeapMiB === undefined
      ? undefined
      : `live heap (what survived a major GC): ${small.liveHeapMiB} MiB at 20,000 users, ${large.liveHeapMiB} MiB at 200,000 (${ratio(large.liveHeapMiB, small.liveHeapMiB)?.toFixed(2) ?? '?'}); the rest of the peak is garbage not yet collected, which grows until V8's first major GCs`;
  add('RSS(200k) / RSS(20k), this sync, full mode', results.ratios['rss 200k/20k'], '≤ 1.3', (v) => v <= 1.3, undefined, liveNote);
  if (args.users >= 1_000_000 && args.model.name === 'azure')
    add(
      '(c) wall at 1,000,000 users, azure model',
      s.full === undefined ? undefined : s.full.wallMs / 60_000,
      '≤ 10 min',
      (v) => v <= 10,
      s.full === undefined ? 'not measured' : `${(s.full.wallMs / 60_000).toFixed(1)} min`,
    );
  add('(e) wall / (c) wall: delta second run against a full run', results.ratios['e/c wall'], '< 0.05 (1/20)', (v) => v < 0.05);
  results.targets = targets;
}

export function renderTable(results: BenchResults): string {
  const rows: string[][] = [['scenario', 'wall s', 'users/s', 'Graph req', 'queue req', 'retries', 'peak RSS MiB', 'live heap MiB', 'CPU/wall']];
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
      r.liveHeapMiB === undefined ? '–' : r.liveHeapMiB.toFixed(1),
      r.cpuShare.toFixed(2),
    ]);
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  const lines = rows.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  '));
  const out = ['', ...lines];
  for (const key of scenarioKeys) {
    const r = results.scenarios[key];
    if (r?.extrapolated !== undefined)
      out.push(
        `* ${chartLabels[key]}: sent ${r.extrapolated.sent.toLocaleString('en-US')} of ${r.extrapolated.of.toLocaleString('en-US')} messages in ${(r.extrapolated.sendMs / 1000).toFixed(0)} s, then stopped (--naive-max-seconds); its wall time is its reading plus that sending time scaled to all messages.`,
      );
    for (const note of r?.notes ?? []) out.push(`${chartLabels[key]}: ${note}`);
    if (r?.proxy !== undefined)
      out.push(
        `${chartLabels[key]}: queue proxy saw ${r.proxy.messages.toLocaleString('en-US')} messages, ${r.proxy.throttled} answered 503, ${(r.proxy.waitedMs / 1000).toFixed(1)} s of waits for the rate cap in total`,
      );
  }
  if (results.churn !== undefined)
    out.push(
      `churn before (e): ${Object.entries(results.churn)
        .map(([k, v]) => `${v} ${k}`)
        .join(', ')}`,
    );
  if (results.rss !== undefined)
    out.push(
      `peak RSS of this sync, full mode, queue answering at once (sink): ${results.rss.map((r) => `${r.users.toLocaleString('en-US')} users ${r.peakRssMiB} MiB, live heap ${r.liveHeapMiB ?? '–'} MiB (${r.rate.toLocaleString('en-US')} users/s)`).join(', ')}`,
    );
  if (results.coldStart !== undefined) {
    out.push(`cold start, require of the function module (median of ${results.coldStart.repetitions}; whole node process in brackets):`);
    for (const v of results.coldStart.variants) {
      out.push(
        `  ${v.label.padEnd(36)} ${v.error !== undefined ? v.error : `${v.medianRequireMs.toFixed(0)} ms (${v.medianProcessMs.toFixed(0)} ms), ${v.bytes === undefined ? '?' : (v.bytes / 1024).toFixed(0)} KiB, ${v.registers ? 'registers syncUsers' : 'did NOT register syncUsers'}`}`,
      );
    }
  }
  out.push(
    '',
    'ratios: ' +
      Object.entries(results.ratios)
        .map(([k, v]) => `${k} ${v === undefined ? '–' : v}`)
        .join(', '),
    'targets:',
  );
  for (const t of results.targets)
    out.push(
      `  ${t.met === undefined ? 'n/a   ' : t.met ? 'met   ' : 'MISSED'}  ${t.name}: ${t.value} (target ${t.target})${t.note === undefined ? '' : `; ${t.note}`}`,
    );
  return out.join('\n') + '\n';
}

/** The JSON of this run (dated) and latest.json, and the chart from the newest run of each model at this size. */
export async function writeResults(dir: string, results: BenchResults): Promise<string[]> {
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
    return [
      {
        label: `${m} model (${run.date.slice(0, 10)})`,
        color: m === 'local' ? '#4e79a7' : '#f28e2b',
        values: Object.fromEntries(scenarioKeys.map((k) => [k, run.scenarios[k]?.rate])),
      },
    ];
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
