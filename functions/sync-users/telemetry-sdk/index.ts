import { createRequire } from 'node:module';
import type { TokenCredential } from '@azure/core-auth';
import { AzureFunctionsInstrumentation } from '@azure/functions-opentelemetry-instrumentation';
import { ManagedIdentityCredential } from '@azure/identity';
import {
  AzureMonitorLogExporter,
  AzureMonitorMetricExporter,
  AzureMonitorTraceExporter,
  type AzureMonitorExporterOptions,
} from '@azure/monitor-opentelemetry-exporter';
import { metrics } from '@opentelemetry/api';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { telemetryScope } from '../../../shared';

/**
 * OpenTelemetry in Azure, as Microsoft documents it for Functions on Node.js (preview): host.json
 * sets "telemetryMode": "OpenTelemetry" for the host, and this worker registers the SDK with the
 * Azure Monitor exporters for its own spans (shared/core/telemetry.ts: sync.run and its children),
 * metrics and log records, plus @azure/functions-opentelemetry-instrumentation, which makes the
 * host's invocation the parent of sync.run and sends the context.log lines through the same
 * pipeline (it tells the host so, which then stops forwarding them itself).
 *
 * Started only when APPLICATIONINSIGHTS_CONNECTION_STRING is set (infra/ sets it) and
 * OTEL_SDK_DISABLED is not "true"; otherwise nothing here runs and the host forwards the plain
 * log lines as before. The exporters authenticate with the app's identity, as the host does:
 * APPLICATIONINSIGHTS_AUTHENTICATION_STRING "Authorization=AAD;ClientId=<id>" (what infra/ sets:
 * the user-assigned identity), or "Authorization=AAD" (the system-assigned one).
 */

export type TelemetryEnvironment = Readonly<Record<string, string | undefined>>;

export interface StartedTelemetry {
  readonly tracerProvider: NodeTracerProvider;
  readonly meterProvider: MeterProvider;
  readonly loggerProvider: LoggerProvider;
  /** Whether the exporters sign in with an identity (Entra ID) rather than the connection string's key. */
  readonly entraAuth: boolean;
}

export interface StartTelemetryOptions {
  /** In place of the identity the authentication string names. */
  credential?: TokenCredential;
  /** Exporter options besides the connection string and the credential (tests: no offline storage). */
  exporterOptions?: Omit<AzureMonitorExporterOptions, 'connectionString' | 'credential'>;
}

/** The identity APPLICATIONINSIGHTS_AUTHENTICATION_STRING names; undefined without Authorization=AAD. */
export function telemetryCredential(authenticationString: string | undefined): TokenCredential | undefined {
  const parts = new Map(
    (authenticationString ?? '')
      .split(';')
      .map((part) => part.split('=').map((s) => s.trim()))
      .filter((pair): pair is [string, string] => pair.length === 2 && pair[0] !== '')
      .map(([key, value]) => [key.toLowerCase(), value]),
  );
  if (parts.get('authorization')?.toLowerCase() !== 'aad') return undefined;
  const clientId = parts.get('clientid') ?? '';
  return new ManagedIdentityCredential(clientId === '' ? {} : { clientId });
}

/** Registers the SDK and the exporters (telemetry.ts calls it once per worker); undefined (and nothing registered) when telemetry is off. */
export function registerTelemetry(env: TelemetryEnvironment, options: StartTelemetryOptions = {}): StartedTelemetry | undefined {
  const connectionString = env['APPLICATIONINSIGHTS_CONNECTION_STRING'] ?? '';
  if (connectionString === '' || env['OTEL_SDK_DISABLED']?.toLowerCase() === 'true') return undefined;

  const credential = options.credential ?? telemetryCredential(env['APPLICATIONINSIGHTS_AUTHENTICATION_STRING']);
  const exporter: AzureMonitorExporterOptions = { ...options.exporterOptions, connectionString, ...(credential === undefined ? {} : { credential }) };
  // The cloud role name in Application Insights: the Function App's name, as the host's own telemetry has it.
  const resource = defaultResource().merge(
    resourceFromAttributes({
      'service.name': env['OTEL_SERVICE_NAME'] ?? env['WEBSITE_SITE_NAME'] ?? telemetryScope.name,
      'service.version': telemetryScope.version,
    }),
  );

  const tracerProvider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new AzureMonitorTraceExporter(exporter))] });
  // The global tracer provider, AsyncLocalStorage context (children find sync.run across awaits) and W3C propagation.
  tracerProvider.register();
  const meterProvider = new MeterProvider({
    resource,
    readers: [new PeriodicExportingMetricReader({ exporter: new AzureMonitorMetricExporter(exporter), exportIntervalMillis: 60_000 })],
  });
  metrics.setGlobalMeterProvider(meterProvider);
  const loggerProvider = new LoggerProvider({
    resource,
    processors: [informationAndAbove(new BatchLogRecordProcessor({ exporter: new AzureMonitorLogExporter(exporter) }))],
  });

  const instrumentation = new AzureFunctionsInstrumentation();
  instrumentation.setTracerProvider(tracerProvider);
  instrumentation.setLoggerProvider(loggerProvider);
  // It patches @azure/functions through a require hook, on the next require of it: this one,
  // whether or not the registration module loaded it before calling here.
  createRequire(__filename)('@azure/functions');

  return { tracerProvider, meterProvider, loggerProvider, entraAuth: credential !== undefined };
}

/**
 * The log lines of Information and above, as host.json's logLevel has it for the host: the
 * per-page debug progress line stays out of Application Insights. (The Functions instrumentation
 * sends every context.log call, with the level as severityText.)
 */
function informationAndAbove(next: LogRecordProcessor): LogRecordProcessor {
  return {
    onEmit: (record, context) => {
      if (record.severityText !== 'debug' && record.severityText !== 'trace') next.onEmit(record, context);
    },
    forceFlush: () => next.forceFlush(),
    shutdown: () => next.shutdown(),
  };
}
