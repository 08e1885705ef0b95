import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { PerformanceObserver, constants } from 'node:perf_hooks';

/**
 * What npm run bench's processes tell each other over their IPC channel (child_process.fork):
 * the stack process (stack-process.ts) answers commands; each scenario's process (scenario-*.ts)
 * sends one result and exits.
 */

/** HTTP requests a process made, by `host:port` (the host header), counted as the Node http client sends them. */
export type RequestCounts = Record<string, { requests: number; failed: number; errors: number }>;

/**
 * Counts this process's HTTP requests (Node's http client: the Azure SDKs and core-rest-pipeline,
 * not fetch): a response of 429 or 5xx is `failed`, a request that got no answer `errors`. Both
 * are what a retry policy then retries.
 */
export function countRequests(): () => RequestCounts {
  const counts: RequestCounts = {};
  const entry = (request: ClientRequest): RequestCounts[string] => {
    const host = String(request.getHeader('host') ?? '?');
    return (counts[host] ??= { requests: 0, failed: 0, errors: 0 });
  };
  subscribe('http.client.request.start', (message) => {
    entry((message as { request: ClientRequest }).request).requests++;
  });
  subscribe('http.client.response.finish', (message) => {
    const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
    const status = response.statusCode ?? 0;
    if (status === 429 || status >= 500) entry(request).failed++;
  });
  subscribe('http.client.request.error', (message) => {
    entry((message as { request: ClientRequest }).request).errors++;
  });
  return () => structuredClone(counts);
}

/**
 * The largest live heap of this process, KiB: heapUsed just after each major GC during the run
 * (what survived it), and after a full GC at the end (the scenarios run with --expose-gc). Peak
 * RSS also counts garbage V8 has not collected yet, which depends on when its major GCs fall: a
 * short run may end before the first one.
 */
export function trackLiveHeap(): () => number {
  let max = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (((entry as { detail?: unknown }).detail as { kind?: number } | undefined)?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)
        max = Math.max(max, process.memoryUsage().heapUsed);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => {
    observer.disconnect();
    (globalThis as { gc?: () => void }).gc?.();
    max = Math.max(max, process.memoryUsage().heapUsed);
    return Math.round(max / 1024);
  };
}

/** A scenario process ends with its parent (Ctrl-C, a failed bench): it would otherwise retry against a stopped stack. */
export function exitWithParent(): void {
  process.on('disconnect', () => process.exit(1));
}

/** CPU milliseconds (user + system) since `start` (a process.cpuUsage()). */
export function cpuSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return Math.round((used.user + used.system) / 1000);
}

/** What a scenario process reports when it is done. */
export interface ScenarioReport {
  ok: boolean;
  /** From the start of the measured work to its end (module loading and pre-encoding left out). */
  wallMs: number;
  /** Users (entries) read, or for the ceiling, messages prepared. */
  users: number;
  /** Messages the queue accepted. */
  messages: number;
  requests: RequestCounts;
  /** process.resourceUsage().maxRSS at the end, KiB: the peak resident set of this process. */
  maxRssKiB: number;
  /** trackLiveHeap()'s figure, KiB: the largest heap that survived a major GC. */
  liveHeapKiB?: number;
  /** CPU time of this process (user + system) over the measured work, ms: near wallMs means it is bound by its own CPU. */
  cpuMs: number;
  /** A failure, in one line. */
  error?: string;
  /** Anything else the scenario measured (the sync's summary, the naive script's phases). */
  details?: Record<string, unknown>;
}

/** Commands to the stack process; each gets one StackAnswer with the same id. */
export type StackCommand =
  | { id: number; cmd: 'seed'; users: number }
  | { id: number; cmd: 'churn'; percent: number }
  | { id: number; cmd: 'counters' }
  | { id: number; cmd: 'freshQueue' }
  | { id: number; cmd: 'stop' };

export interface StackCounters {
  graph: { requests: number; pageRequests: number; pages: number; throttled: number };
  /** The azure model's proxy (undefined in the local model); the sink's. */
  proxy: { requests: number; messages: number; throttled: number; waitedMs: number } | undefined;
  sink: { requests: number; messages: number };
}

export type StackAnswer = { id: number; ok: true; value?: unknown } | { id: number; ok: false; error: string };

/**
 * The answer to freshQueue: a new, empty Azurite queue service for the next scenario (the one
 * before is stopped), and the settings that reach it (through the proxy in the azure model).
 * Azurite keeps every message of every queue in one LokiJS collection whose indices are sorted
 * arrays: each message put, and each one a queue deletion removes, moves the whole index, so its
 * inserts slow down as it fills and deleting a queue of 100,000 messages takes minutes. A fresh
 * process per scenario gives each the same start, and takes no time to clean.
 */
export interface FreshQueue {
  settings: Record<string, string>;
  /** host:port the scenario's queue requests go to. */
  queueHost: string;
}

/** The stack process's first message: where everything is. */
export interface StackReady {
  type: 'ready';
  /** App settings pointing the sync at the stack, with the queue endpoint the sink (reading alone); freshQueue gives those of the others. */
  sinkSettings: Record<string, string>;
  identityEnvironment: Record<string, string>;
  /** For the naive script, which signs in as the quickstart does, with the secret in its configuration. */
  clientSecret: string;
  /** host:port of each endpoint, to sort the scenario processes' request counts. */
  hosts: { graph: string; blob: string; keyVault: string; sink: string };
}
