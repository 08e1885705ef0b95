import { join } from 'node:path';
import { parseCommandArgs, UsageError } from '../invoke';

/** npm run bench's scenarios, network models and command line. */

export const scenarioKeys = ['ceiling', 'naive', 'read', 'full', 'delta', 'delta2'] as const;
export type ScenarioKey = (typeof scenarioKeys)[number];
export const partKeys = [...scenarioKeys, 'rss', 'coldstart'] as const;
export type PartKey = (typeof partKeys)[number];

export const scenarioLabels: Record<ScenarioKey, string> = {
  ceiling: '(a) ceiling: pre-encoded messages, same queue and concurrency, nothing else',
  naive: '(b) naive: every page into memory, then one awaited send at a time',
  read: '(r) reading alone: this sync, full mode, queue answering at once (sink)',
  full: '(c) this sync, full mode',
  delta: '(d) this sync, delta mode, first run',
  delta2: '(e) this sync, delta mode, second run after churn',
};
export const chartLabels: Record<ScenarioKey, string> = {
  ceiling: '(a) ceiling',
  naive: '(b) naive',
  read: '(r) reading alone',
  full: '(c) full',
  delta: '(d) delta, first',
  delta2: '(e) delta, second',
};

export interface NetworkModel {
  name: 'local' | 'azure';
  graphMsPer999: number;
  queueLatencyMs: number;
  queueMessagesPerSecond: number | undefined;
  queueOverLimit: 'delay' | '503';
  /** Where the azure model's proxy puts messages: Azurite, or nowhere (answered by the proxy). */
  queueStore: 'azurite' | 'none';
}

export const usage = `usage: npm run bench -- [--users N] [--model local|azure] [options]
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
  --parallel-reads N        GRAPH_PARALLEL_READS for the sync's full mode and (d)'s snapshot, 1 to 16 (default:
                            8 in the azure model, where a sequential walk is bound by Graph's page time; the
                            sync's own default, 1, in the local model)
  --churn-percent P         users changed before (e), 0.01 to 50 (default 1)
  --naive-max-seconds S     stop (b)'s sending after S s and extrapolate, 0 for never (default 120)
  --cpu-prof DIR            write a V8 CPU profile of each scenario's process into DIR (node --cpu-prof)
  --only LIST               some of ${partKeys.join(',')} (default all)
  --out DIR                 where the JSON and SVG go (default bench/results)
  -h, --help                this text
Exit status: 0 ok (targets missed included: they are reported), 1 a failed run, 2 bad arguments.`;

export function wholeNumber(name: string, text: string, min: number, max: number, example: string): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max)
    throw new UsageError(`--${name} "${text}" must be a whole number from ${min} to ${max}, e.g. --${name} ${example}`);
  return Number(text);
}

export function decimal(name: string, text: string, min: number, max: number, example: string): number {
  if (!/^\d+(\.\d+)?$/.test(text) || Number(text) < min || Number(text) > max)
    throw new UsageError(`--${name} "${text}" must be a number from ${min} to ${max}, e.g. --${name} ${example}`);
  return Number(text);
}

export interface BenchArgs {
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

export function parseBenchArgs(args: string[]): BenchArgs {
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
      'naive-max-seconds': { type: 'string', default: '120' },
      only: { type: 'string', default: partKeys.join(',') },
      'cpu-prof': { type: 'string' },
      out: { type: 'string', default: join('bench', 'results') },
    },
    args,
  );
  const users = wholeNumber('users', values.users.replace(/_/g, ''), 1000, 1_000_000, '100000');
  if (values.model !== 'local' && values.model !== 'azure') throw new UsageError(`--model "${values.model}" must be local or azure`);
  if (values['queue-over-limit'] !== 'delay' && values['queue-over-limit'] !== '503')
    throw new UsageError(`--queue-over-limit "${values['queue-over-limit']}" must be delay or 503`);
  if (values['queue-store'] !== 'none' && values['queue-store'] !== 'azurite')
    throw new UsageError(`--queue-store "${values['queue-store']}" must be none or azurite`);
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
  if (parts.has('delta2') && !parts.has('delta'))
    throw new UsageError('--only: delta2 (the second delta run) needs delta (the first run, which gives it its delta link)');
  return {
    users,
    model,
    concurrency: wholeNumber('concurrency', values.concurrency, 1, 256, '32'),
    parallelReads: values['parallel-reads'] === undefined ? (azure ? 8 : undefined) : wholeNumber('parallel-reads', values['parallel-reads'], 1, 16, '8'),
    churnPercent: decimal('churn-percent', values['churn-percent'], 0.01, 50, '1'),
    naiveMaxSeconds: wholeNumber('naive-max-seconds', values['naive-max-seconds'], 0, 86_400, '120'),
    parts,
    out: values.out,
    cpuProfDir: values['cpu-prof'],
  };
}
