import { SpanStatusCode, metrics, trace, type Attributes, type Counter, type Histogram, type MeterProvider, type Span, type Tracer } from '@opentelemetry/api';
import { product } from './product';
import { SyncError } from './sync-error';

/**
 * The sync's OpenTelemetry signals, on the OpenTelemetry API only: which SDK and exporter receive
 * them is decided by whoever starts the process (functions/sync-users/telemetry.ts: Azure Monitor;
 * local/telemetry.ts: in memory, printed). With no SDK registered every call here is a no-op.
 *
 * What goes into a span or a metric is counts, modes, page numbers, durations and error codes:
 * never a user id, name, UPN or mail, a URL (page links carry skip and delta tokens), a secret,
 * a token or an error message (messages may quote a server's answer).
 */

/** The instrumentation scope: the tracer's and the meter's name and version (package.json's; test/telemetry.test.ts checks). */
export const telemetryScope = product;

export const SpanNames = {
  /** One run (one invocation of the handler): the root of the app's own spans. */
  run: 'sync.run',
  /** One Graph page: the request, its retries and (first page) the token. */
  graphPage: 'graph.page',
  /** One app-only token from msal-node (from its cache or from Entra ID). */
  token: 'entra.token',
  keyVaultSecret: 'keyvault.secret.get',
  keyVaultCertificate: 'keyvault.certificate.get',
  /** GRAPH_CREDENTIAL=managed-identity: the identity's token that becomes the client assertion. */
  identityToken: 'managed-identity.token',
} as const;

export const MetricNames = {
  runs: 'sync.runs',
  usersRead: 'sync.users.read',
  messagesSent: 'sync.messages.sent',
  removalsHeld: 'sync.removals.held',
  retries: 'sync.retries',
  runDuration: 'sync.run.duration',
  queueSendDuration: 'sync.queue.send.duration',
} as const;

/** Attribute names. Values are ids of runs, enums, counts and codes only. */
export const Attr = {
  runId: 'sync.run.id',
  invocationId: 'sync.invocation.id',
  mode: 'sync.mode',
  kind: 'sync.kind',
  snapshotReason: 'sync.snapshot.reason',
  outcome: 'sync.outcome',
  resumed: 'sync.resumed',
  resumedAtPage: 'sync.resumed.page',
  pages: 'sync.pages',
  users: 'sync.users',
  messages: 'sync.messages',
  snapshots: 'sync.messages.snapshot',
  upserts: 'sync.messages.upserted',
  removals: 'sync.messages.removed',
  overflowed: 'sync.overflowed',
  retryMs: 'sync.retry.ms',
  deltaLinkAdvanced: 'sync.delta_link.advanced',
  tokenFromCache: 'sync.token.from_cache',
  removalsHeld: 'sync.removals.held',
  pageNumber: 'sync.page.number',
  messageType: 'sync.message.type',
  dependency: 'sync.dependency',
  credentialMode: 'sync.credential.mode',
  /** OpenTelemetry's semantic conventions: the error's class, here the SyncError code. */
  errorType: 'error.type',
  httpStatus: 'http.response.status_code',
} as const;

export function tracer(): Tracer {
  return trace.getTracer(telemetryScope.name, telemetryScope.version);
}

export interface Instruments {
  /** Invocations, by sync.outcome (completed, locked, failed), sync.mode and error.type. */
  readonly runs: Counter;
  /** Graph entries (users and removals) read, by every invocation, failed ones included. */
  readonly usersRead: Counter;
  /** Messages of a completed run, by sync.message.type: the run's totals, counted once when it completes. */
  readonly messagesSent: Counter;
  /** Removals the mass-deletion guard held back (REMOVALS_HELD). */
  readonly removalsHeld: Counter;
  /** Retried attempts, by sync.dependency (Microsoft Graph, Entra ID, Key Vault). */
  readonly retries: Counter;
  readonly runDuration: Histogram;
  readonly queueSendDuration: Histogram;
}

let current: { provider: MeterProvider; instruments: Instruments } | undefined;

/**
 * The instruments of the meter provider registered now. The API's meters are not proxies (unlike
 * its tracers): instruments made before an SDK registers would stay no-ops, so they are made
 * again whenever the global provider changes.
 */
export function instruments(): Instruments {
  const provider = metrics.getMeterProvider();
  if (current?.provider !== provider) {
    const meter = provider.getMeter(telemetryScope.name, telemetryScope.version);
    current = {
      provider,
      instruments: {
        runs: meter.createCounter(MetricNames.runs, { description: 'Sync invocations, by outcome', unit: '{run}' }),
        usersRead: meter.createCounter(MetricNames.usersRead, { description: 'Graph entries (users and removals) read', unit: '{user}' }),
        messagesSent: meter.createCounter(MetricNames.messagesSent, { description: 'Messages a completed run sent, by type', unit: '{message}' }),
        removalsHeld: meter.createCounter(MetricNames.removalsHeld, { description: 'Removals held back by the mass-deletion guard', unit: '{removal}' }),
        retries: meter.createCounter(MetricNames.retries, { description: 'Retried attempts, by dependency', unit: '{retry}' }),
        runDuration: meter.createHistogram(MetricNames.runDuration, {
          description: 'Duration of a sync invocation',
          unit: 's',
          advice: { explicitBucketBoundaries: [1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600] },
        }),
        queueSendDuration: meter.createHistogram(MetricNames.queueSendDuration, {
          description: 'Latency of one queue send, retries included',
          unit: 's',
          advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] },
        }),
      },
    };
  }
  return current.instruments;
}

/**
 * Runs `fn` in a new active span (a child of the active one), ended when `fn` settles; `result`
 * may describe its value on the span. A failure marks the span with its error code only
 * (errorType): never the message or the stack.
 */
export function inSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>, result?: (value: T, span: Span) => void): Promise<T> {
  return tracer().startActiveSpan(name, { attributes }, async (span) => {
    try {
      const value = await fn(span);
      result?.(value, span);
      return value;
    } catch (error) {
      markFailed(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** An HTTP answer's status on the span; 4xx and 5xx mark it failed (error.type: the status, as OpenTelemetry's HTTP conventions say). */
export function httpStatus(span: Span, status: number): void {
  span.setAttribute(Attr.httpStatus, status);
  if (status >= 400) {
    span.setAttribute(Attr.errorType, String(status));
    span.setStatus({ code: SpanStatusCode.ERROR, message: String(status) });
  }
}

export function markFailed(span: Span, error: unknown): void {
  const type = errorType(error);
  span.setAttribute(Attr.errorType, type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
}

/**
 * A short, safe code for a failure: the SyncError code (also when an SDK wrapped it as its cause),
 * else the SDK's error code (e.g. REQUEST_SEND_ERROR, SecretNotFound), else HTTP_<status>, else
 * the error's class name. Nothing of the message.
 */
export function errorType(error: unknown): string {
  if (error instanceof SyncError) return error.code;
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  if (cause instanceof SyncError) return cause.code;
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && /^[A-Za-z][\w.-]{0,63}$/.test(code)) return code;
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  if (typeof status === 'number') return `HTTP_${status}`;
  const name = (error as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' && /^[A-Za-z]\w{0,63}$/.test(name) ? name : 'UNKNOWN';
}

/** A retried attempt (retry.ts calls this where a retry is decided). */
export function countRetry(dependency: string): void {
  instruments().retries.add(1, { [Attr.dependency]: dependency });
}
