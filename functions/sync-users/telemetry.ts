import { createRequire } from 'node:module';
import type * as Sdk from './telemetry-sdk/index';
import type { StartTelemetryOptions, StartedTelemetry, TelemetryEnvironment } from './telemetry-sdk/index';

/**
 * The worker's OpenTelemetry switch (telemetry-sdk/index.ts does the work): started once, when
 * APPLICATIONINSIGHTS_CONNECTION_STRING is set and OTEL_SDK_DISABLED is not "true", and flushed
 * after each run. The SDK and the Azure Monitor exporters take about 0.8 s to load, so they are
 * required only when telemetry is on: without it the Function's cold start (and every command of
 * local/) does not pay for them. The SDK's module sits in a folder of its own because the host
 * loads every file package.json `main` names (dist/functions/*.js): one directly in functions/
 * would be loaded, SDK and all, at every cold start.
 */

export type { StartTelemetryOptions, StartedTelemetry, TelemetryEnvironment } from './telemetry-sdk/index';

let started: StartedTelemetry | undefined;

/** Whether the settings turn the worker's OpenTelemetry on. */
export function telemetryEnabled(env: TelemetryEnvironment): boolean {
  return (env['APPLICATIONINSIGHTS_CONNECTION_STRING'] ?? '') !== '' && env['OTEL_SDK_DISABLED']?.toLowerCase() !== 'true';
}

function sdk(): typeof Sdk {
  return createRequire(__filename)('./telemetry-sdk/index') as typeof Sdk;
}

/** Registers the SDK and the exporters once per worker; undefined (and nothing loaded) when telemetry is off. */
export function startTelemetry(env: TelemetryEnvironment, options: StartTelemetryOptions = {}): StartedTelemetry | undefined {
  if (started !== undefined) return started;
  if (!telemetryEnabled(env)) return undefined;
  started = sdk().registerTelemetry(env, options);
  return started;
}

/** The identity APPLICATIONINSIGHTS_AUTHENTICATION_STRING names (see telemetry-sdk/index.ts). */
export function telemetryCredential(authenticationString: string | undefined): ReturnType<typeof Sdk.telemetryCredential> {
  return sdk().telemetryCredential(authenticationString);
}

/** Sends what is buffered (after each run), waiting at most `timeoutMs`; never throws. */
export async function flushTelemetry(timeoutMs = 10_000): Promise<void> {
  const telemetry = started;
  if (telemetry === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled([telemetry.tracerProvider.forceFlush(), telemetry.meterProvider.forceFlush(), telemetry.loggerProvider.forceFlush()]),
    new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
  ]);
  clearTimeout(timer);
}

/** Flushes and stops the providers (tests; the worker keeps them for its life). */
export async function stopTelemetry(): Promise<void> {
  const telemetry = started;
  started = undefined;
  if (telemetry === undefined) return;
  await Promise.allSettled([telemetry.tracerProvider.shutdown(), telemetry.meterProvider.shutdown(), telemetry.loggerProvider.shutdown()]);
}
