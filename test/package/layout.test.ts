import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { allSettingNames } from '../../shared';
import { runNode } from '../helpers/run-node';

// What `func start` and the Functions host rely on.
const root = join(__dirname, '..', '..', '..');
const readJson = (file: string): Record<string, unknown> => JSON.parse(readFileSync(join(root, file), 'utf8')) as Record<string, unknown>;

describe('project layout', () => {
  it('package.json main points at the compiled functions', () => {
    const main = readJson('package.json')['main'];
    assert.equal(main, 'dist/functions/*.js');
    const compiled = readdirSync(join(root, 'dist', 'functions')).filter((f) => f.endsWith('.js'));
    assert.ok(compiled.includes('syncUsers.js'));
  });

  it('the files main names (the host loads them all) do not load the OpenTelemetry SDK when telemetry is off', async () => {
    const files = readdirSync(join(root, 'dist', 'functions'))
      .filter((f) => f.endsWith('.js'))
      .map((f) => join(root, 'dist', 'functions', f));
    const script = `for (const f of process.argv.slice(1)) require(f); process.stdout.write(JSON.stringify(Object.keys(require.cache)));`;
    const env = { ...process.env };
    delete env['APPLICATIONINSIGHTS_CONNECTION_STRING'];
    const { code, stdout, stderr } = await runNode(['-e', script, ...files], env);
    assert.equal(code, 0, stderr);
    const loaded = JSON.parse(stdout) as string[];
    assert.ok(
      loaded.some((f) => f.endsWith(join('dist', 'functions', 'syncUsers.js'))),
      'syncUsers.js was loaded',
    );
    const sdk = loaded.filter((f) => /@opentelemetry[\\/]sdk-|monitor-opentelemetry-exporter|telemetry-sdk/.test(f));
    assert.deepEqual(sdk, [], 'loaded only when APPLICATIONINSIGHTS_CONNECTION_STRING is set');
  });

  it('host.json uses extension bundle [4.*, 5.0.0)', () => {
    const host = readJson('host.json') as { version: string; extensionBundle: { id: string; version: string } };
    assert.equal(host.version, '2.0');
    assert.deepEqual(host.extensionBundle, { id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[4.*, 5.0.0)' });
  });

  it('local.settings.json.example holds every setting the code reads, and nothing else but the worker runtime', () => {
    const values = (readJson('local.settings.json.example') as { Values: Record<string, string> }).Values;
    assert.deepEqual(Object.keys(values).sort(), [...allSettingNames, 'FUNCTIONS_WORKER_RUNTIME'].sort());
    assert.equal(values['FUNCTIONS_WORKER_RUNTIME'], 'node');
  });

  it('the real local.settings.json is git-ignored', () => {
    assert.match(readFileSync(join(root, '.gitignore'), 'utf8'), /^local\.settings\.json$/m);
    assert.ok(existsSync(join(root, '.funcignore')));
  });
});
