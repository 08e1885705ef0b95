import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { InvocationContext } from '@azure/functions';
import { RestError } from '@azure/core-rest-pipeline';
import { ManagedIdentityCredential } from '@azure/identity';
import { trace } from '@opentelemetry/api';
import { RunLog } from '../../../functions/sync-users/run-log';
import { flushTelemetry, startTelemetry, stopTelemetry, telemetryCredential } from '../../../functions/sync-users/telemetry';
import { errorType, inSpan, SyncError, SyncErrorCodes, telemetryScope } from '../../../shared/internal';

// The parts of the telemetry that need no stack: names, error codes, the run-id log lines, and
// the Azure wiring (started only with a connection string; the Functions instrumentation applied).
// telemetry.e2e.test.ts checks the spans and metrics of real runs.
const root = join(__dirname, '..', '..', '..', '..');

describe('telemetry', () => {
  it("names the instrumentation scope graph-user-sync with package.json's version; host.json asks the host for OpenTelemetry", () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string };
    assert.deepEqual(telemetryScope, { name: pkg.name, version: pkg.version });
    const host = JSON.parse(readFileSync(join(root, 'host.json'), 'utf8')) as { telemetryMode?: string };
    assert.equal(host.telemetryMode, 'OpenTelemetry');
  });

  it('records a failure as a short code, never its message', () => {
    const secretish = 'AADSTS7000215: Invalid client secret provided for zoe@contoso.com';
    assert.equal(errorType(new SyncError(SyncErrorCodes.clientSecretRejected, secretish)), 'CLIENT_SECRET_REJECTED');
    assert.equal(errorType(new Error('wrapped', { cause: new SyncError(SyncErrorCodes.retryBudgetExhausted, secretish) })), 'RETRY_BUDGET_EXHAUSTED');
    assert.equal(errorType(new RestError(secretish, { code: 'REQUEST_SEND_ERROR' })), 'REQUEST_SEND_ERROR');
    assert.equal(errorType(new RestError(secretish, { statusCode: 503 })), 'HTTP_503');
    assert.equal(errorType(Object.assign(new Error(secretish), { code: secretish })), 'Error', 'a code that is not a code falls back to the class name');
    assert.equal(errorType('a string'), 'UNKNOWN');
  });

  it('without an SDK, spans cost nothing and change nothing', async () => {
    assert.equal(await inSpan('x', {}, () => Promise.resolve(42)), 42);
    await assert.rejects(
      inSpan('x', {}, () => Promise.reject(new Error('no'))),
      /no/,
    );
  });

  it('puts the run id on every log line, holding the lines written before it is known', () => {
    const lines: string[] = [];
    const context = new InvocationContext({
      invocationId: 'invocation-2',
      functionName: 'syncUsers',
      logHandler: (level, ...args) => lines.push(`${level}: ${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`),
    });
    const log = new RunLog(context);
    log.warn('The timer is past due');
    log.warn('Resuming run run-1 at page 2');
    assert.deepEqual(lines, [], 'held until the run is known');
    log.identify('run-1');
    log.debug('sync progress', { pages: 1 });
    log.info('Sync finished');
    log.identify('run-3');
    log.close();
    log.error('late');
    assert.deepEqual(lines, [
      'warning: [run run-1] The timer is past due',
      'warning: [run run-1] Resuming run run-1 at page 2',
      'debug: sync progress {"runId":"run-1","pages":1}',
      'information: [run run-1] Sync finished',
      'error: [run run-1] late',
    ]);

    const none: string[] = [];
    const unidentified = new RunLog(
      new InvocationContext({ invocationId: 'invocation-4', functionName: 'syncUsers', logHandler: (_level, text) => none.push(String(text)) }),
    );
    unidentified.error('Sync failed [SETTINGS_INVALID]: …');
    unidentified.close();
    assert.deepEqual(none, ['[run invocation-4] Sync failed [SETTINGS_INVALID]: …'], 'no run started: the invocation id');
  });

  it('signs the exporters in with the identity APPLICATIONINSIGHTS_AUTHENTICATION_STRING names', () => {
    assert.ok(telemetryCredential('Authorization=AAD;ClientId=5e1c2a77-1d0a-4c55-8f0e-0c2b7f7d6a11') instanceof ManagedIdentityCredential);
    assert.ok(telemetryCredential('ClientId=5e1c2a77-1d0a-4c55-8f0e-0c2b7f7d6a11; Authorization=aad') instanceof ManagedIdentityCredential);
    assert.ok(telemetryCredential('Authorization=AAD') instanceof ManagedIdentityCredential, 'the system-assigned identity');
    assert.equal(telemetryCredential(undefined), undefined);
    assert.equal(telemetryCredential('Authorization=Key'), undefined);
  });

  it('starts nothing without APPLICATIONINSIGHTS_CONNECTION_STRING, or with OTEL_SDK_DISABLED=true', () => {
    assert.equal(startTelemetry({}), undefined);
    assert.equal(startTelemetry({ APPLICATIONINSIGHTS_CONNECTION_STRING: connectionString, OTEL_SDK_DISABLED: 'true' }), undefined);
    assert.equal(trace.getTracer('t').startSpan('s').isRecording(), false, 'no SDK registered');
  });

  it('with a connection string: the SDK registered, the Functions instrumentation applied to @azure/functions, flushes bounded', async () => {
    process.env['APPLICATIONINSIGHTS_STATSBEAT_DISABLED'] = 'true';
    process.env['APPLICATION_INSIGHTS_NO_STATSBEAT'] = 'true';
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => warnings.push(args.map(String).join(' '));
    let started;
    try {
      started = startTelemetry(
        {
          APPLICATIONINSIGHTS_CONNECTION_STRING: connectionString,
          APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=5e1c2a77-1d0a-4c55-8f0e-0c2b7f7d6a11',
        },
        {
          credential: { getToken: () => Promise.resolve({ token: 'not-a-token', expiresOnTimestamp: Date.now() + 3_600_000 }) },
          exporterOptions: { disableOfflineStorage: true },
        },
      );
    } finally {
      console.warn = warn;
    }
    assert.ok(started?.entraAuth);
    assert.equal(startTelemetry({ APPLICATIONINSIGHTS_CONNECTION_STRING: connectionString }), started, 'once per worker');
    assert.ok(trace.getTracer('t').startSpan('s').isRecording(), 'spans are recorded');
    // Outside the Functions host the library is in test mode: the instrumentation's hooks are refused, which shows it ran.
    assert.ok(
      warnings.some((w) => /register log hook/.test(w)),
      warnings.join('\n'),
    );
    assert.ok(
      warnings.some((w) => /register preInvocation hook/.test(w)),
      warnings.join('\n'),
    );
    await inSpan('sync.run', {}, () => Promise.resolve());
    const before = Date.now();
    await flushTelemetry(300); // the ingestion endpoint below refuses connections
    assert.ok(Date.now() - before < 2_000, 'a flush never holds a run up for long');
    await stopTelemetry();
  });
});

const connectionString = 'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/';
