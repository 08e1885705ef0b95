import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readSettings } from '../../shared';
import { isListening } from '../../local/net';
import { startLocalStack } from '../../local/stack';
import { runNode } from '../helpers/run-node';
import { drainQueue } from '../helpers/stack';

// The commands a user runs, as child processes (this process already trusts the stack's certificate).
const dist = join(__dirname, '..', '..');

const run = (script: string, args: string[], env: NodeJS.ProcessEnv): ReturnType<typeof runNode> => runNode([join(dist, script), ...args], env);

// A stack frame (`    at fn (file.js:1:2)`), not a usage line that starts with "at".
const stackFrame = /^\s+at .*:\d+:\d+\)?$/m;

const settingNames = [
  'GRAPH_TENANT_ID',
  'GRAPH_CLIENT_ID',
  'KEY_VAULT_URL',
  'AzureWebJobsStorage',
  'IDENTITY_ENDPOINT',
  'IDENTITY_HEADER',
  'AZURE_CLIENT_ID',
  'USER_FIELDS',
  'SYNC_SCHEDULE',
];
// Every command runs with its temp folder inside this one: the last test checks it is empty (no
// local-stack-*, graph-user-sync-* or other folder left) and that no process with it is still running.
const suiteTmp = mkdtempSync(join(tmpdir(), 'graph-user-sync-cli-'));
after(() => rmSync(suiteTmp, { recursive: true, force: true }));

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: suiteTmp, TMP: suiteTmp, TEMP: suiteTmp };
  for (const name of settingNames) Reflect.deleteProperty(env, name);
  return env;
}

describe('commands', () => {
  const commands = [
    { script: 'local/run.js', name: 'npm run local' },
    { script: 'local/sync.js', name: 'npm run sync' },
    { script: 'local/stack-cli.js', name: 'npm run local:stack' },
    { script: 'local/bench.js', name: 'npm run bench' },
    { script: 'local/soak.js', name: 'npm run soak' },
  ];
  for (const { script, name } of commands) {
    it(`${name} --help: the usage on stdout, exit 0, nothing started`, async () => {
      for (const flag of ['--help', '-h']) {
        const result = await run(script, [flag], cleanEnv());
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, new RegExp(`^usage: ${name} `));
        assert.doesNotMatch(result.stdout, /Starting|Local stack running/);
        assert.equal(result.stderr, '');
      }
    });

    it(`${name} --no-such-option: exit 2, the option named and the usage shown, no stack trace`, async () => {
      const result = await run(script, ['--no-such-option'], cleanEnv());
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, new RegExp(`^${name}: Unknown option '--no-such-option'`));
      assert.match(result.stderr, new RegExp(`\nusage: ${name} `));
      assert.doesNotMatch(result.stderr, stackFrame, 'no stack trace');
    });
  }

  for (const script of ['local/run.js', 'local/stack-cli.js']) {
    it(`${script}: --users with a bad value exits 2 and says what a good value is`, async () => {
      const result = await run(script, ['--users', 'many'], cleanEnv());
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /--users "many" must be a whole number from 0 to 1000000, e\.g\. --users 2500/);
      assert.doesNotMatch(result.stderr, stackFrame, 'no stack trace');
    });
  }

  it('npm run local -- --once: bad settings exit 2 (as under npm run sync), naming the setting, and the stack is stopped', async () => {
    const result = await run('local/run.js', ['--once', '--users', '1'], { ...cleanEnv(), USER_FIELDS: 'id,mail$' });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stdout, /Graph with 1 user, /, 'plural only when plural');
    assert.match(
      result.stderr,
      /^Invalid settings \(1\), read from the environment: you exported USER_FIELDS, which win over the local stack's settings; fix them there:\n {2}- USER_FIELDS "id,mail\$" must be a comma-separated list/m,
    );
    assert.doesNotMatch(result.stderr, stackFrame, 'no stack trace');
    const port = /Azurite\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(result.stdout)?.[1];
    assert.ok(port !== undefined, result.stdout);
    assert.equal(await isListening(Number(port)), false, 'Azurite still listening after exit');
  });

  it('npm run sync -- --settings FILE: a bad value in the file exits 2 and the message names the file', async () => {
    const dir = mkdtempSync(join(suiteTmp, 'settings-'));
    try {
      const file = join(dir, 'local.settings.json');
      writeFileSync(
        file,
        JSON.stringify({
          Values: {
            GRAPH_TENANT_ID: 'contoso.onmicrosoft.com',
            GRAPH_CLIENT_ID: 'not-a-guid',
            KEY_VAULT_URL: 'https://v.vault.azure.net/',
            AzureWebJobsStorage: 'UseDevelopmentStorage=true',
          },
        }),
      );
      const result = await run('local/sync.js', ['--once', '--settings', file], cleanEnv());
      assert.equal(result.code, 2, result.stderr);
      assert.ok(result.stderr.startsWith(`Invalid settings (1), read from the environment and ${file} (--settings;`), result.stderr);
      assert.match(result.stderr, /GRAPH_CLIENT_ID "not-a-guid" is not a GUID/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('npm run sync -- --settings with a file that is not there: exit 2, naming the file', async () => {
    const result = await run('local/sync.js', ['--once', '--settings', join(tmpdir(), 'no-such-dir-graph-user-sync', 'local.settings.json')], cleanEnv());
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /--settings .*local\.settings\.json: cannot read it as local\.settings\.json \(ENOENT/);
  });

  it('npm start (prestart): without Core Tools 4 on PATH, says how to install it and what npm run local offers; exit 1', async () => {
    const bin = mkdtempSync(join(suiteTmp, 'bin-'));
    try {
      const missing = await run('local/check-func.js', [], { ...cleanEnv(), PATH: bin });
      assert.equal(missing.code, 1, missing.stderr);
      assert.match(missing.stderr, /Azure Functions Core Tools \(func\) is not on PATH/);
      assert.match(missing.stderr, /npm install -g azure-functions-core-tools@4/);
      assert.match(missing.stderr, /npm run local runs the same handler against the offline stack/);

      const fake = (version: string): void => writeFileSync(join(bin, 'func'), `#!/bin/sh\necho ${version}\n`, { mode: 0o755 });
      fake('3.0.3904');
      const old = await run('local/check-func.js', [], { ...cleanEnv(), PATH: bin });
      assert.equal(old.code, 1, old.stderr);
      assert.match(old.stderr, /version 3\.0\.3904; this app needs Azure Functions Core Tools 4/);
      fake('4.0.7030');
      const ok = await run('local/check-func.js', [], { ...cleanEnv(), PATH: bin });
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stderr, '');

      const help = await run('local/check-func.js', ['--help'], { ...cleanEnv(), PATH: bin });
      assert.equal(help.code, 0);
      assert.match(help.stdout, /^usage: /);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
    const pkg = JSON.parse(readFileSync(join(dist, '..', 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.match(pkg.scripts['prestart'] ?? '', /node dist\/local\/check-func\.js/);
  });

  it('npm run local -- --once: syncs the seeded users, shows a message, exits 0 and leaves nothing running', async () => {
    const result = await run('local/run.js', ['--once', '--users', '30'], cleanEnv());
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /Sync finished \(delta mode, snapshot \(first-delta\): 30 snapshot users, delta link advanced\): 30 entries read in 1 page, 31 messages written to queue "users"/,
    );
    assert.match(result.stdout, /"schemaVersion": 2/);
    const port = /Azurite\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(result.stdout)?.[1];
    assert.ok(port !== undefined, result.stdout);
    assert.equal(await isListening(Number(port)), false, 'Azurite still listening after exit');
    const graphPort = /Graph\s+https:\/\/127\.0\.0\.1:(\d+)/.exec(result.stdout)?.[1];
    assert.equal(await isListening(Number(graphPort)), false, 'Graph stand-in still listening after exit');
  });

  it('npm run local -- --once exits non-zero when the run fails', async () => {
    const result = await run('local/run.js', ['--once', '--users', '3'], { ...cleanEnv(), USER_FIELDS: 'id,favouriteColour' });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Sync failed \[GRAPH_BAD_REQUEST\].*favouriteColour.*USER_FIELDS/);
  });

  it('npm run sync -- --once: exit 2 with every missing setting named when the environment has none', async () => {
    const result = await run('local/sync.js', ['--once'], cleanEnv());
    assert.equal(result.code, 2);
    for (const name of ['GRAPH_TENANT_ID', 'GRAPH_CLIENT_ID', 'KEY_VAULT_URL', 'AzureWebJobsStorage'])
      assert.match(result.stderr, new RegExp(`${name} is missing`));
    assert.match(
      result.stderr,
      /^Invalid settings \(4\), read from the environment \(npm run sync reads exported variables only; --settings local\.settings\.json adds that file\)/,
    );
    assert.doesNotMatch(result.stderr, stackFrame, 'no stack trace');
  });

  it("npm run local -- --once --credential managed-identity: syncs with no secret and no certificate in the stack's vault", async () => {
    const result = await run('local/run.js', ['--once', '--users', '30', '--credential', 'managed-identity'], cleanEnv());
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Credential managed-identity \(GRAPH_CREDENTIAL\); the vault holds nothing: no secret anywhere/);
    assert.match(result.stdout, /Sync finished \(delta mode, snapshot \(first-delta\): 30 snapshot users/);
    const bad = await run('local/run.js', ['--once', '--credential', 'password'], cleanEnv());
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--credential "password" must be one of secret, certificate, managed-identity/);
  });

  it('npm run sync -- --once: exit 0 against whatever settings the environment holds', async () => {
    const stack = await startLocalStack({ users: 12 });
    try {
      const env = { ...cleanEnv(), ...stack.settings, ...stack.identityEnvironment };
      const dry = await run('local/sync.js', ['--once', '--dry-run'], env);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(
        dry.stdout,
        /Dry run \(delta mode, a snapshot \(first-delta\)\): nothing was written\. It would send 12 snapshot users, 0 upserts and 0 removals/,
      );
      assert.equal((await run('local/sync.js', ['--dry-run'], env)).code, 2, '--dry-run needs --once');
      const result = await run('local/sync.js', ['--once'], env);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /12 entries read in 1 page, 13 messages written/, 'the real run after the dry run still sends everything');
    } finally {
      await stack.stop();
    }
  });

  it('npm run sync: a SIGTERM mid-run stops it within 10 s, saying what it left; the next run resumes it and nobody is lost', async () => {
    const stack = await startLocalStack({ users: 3000 });
    try {
      stack.faults.arm('graph-stall@2'); // page 2 never completes: the sync is mid-run when the signal comes
      const env = { ...cleanEnv(), ...stack.settings, ...stack.identityEnvironment, GRAPH_REQUEST_TIMEOUT_SECONDS: '120' };
      const child = spawn(process.execPath, [join(dist, 'local/sync.js'), '--once'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      const deadline = Date.now() + 60_000;
      while (stack.faults.injected === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(stack.faults.injected, 1, 'page 2 was requested');
      const signalled = Date.now();
      child.kill('SIGTERM');
      assert.equal(await exited, 1, output);
      const stopMs = Date.now() - signalled;
      process.stdout.write(`SIGTERM to exit: ${stopMs} ms\n`);
      assert.ok(stopMs < 10_000, `stopped within 10 s (took ${stopMs} ms)`);
      assert.match(output, /Sync failed \[RUN_INTERRUPTED\]: Stopped on request: run [\w-]+ had read 200 users in 1 page and written 200 messages/);
      assert.match(output, /the next run \(or the host's retry\) resumes there/);

      const again = await run('local/sync.js', ['--once'], env);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /2800 entries read in 14 pages, 2801 messages written .*resumed at page 2/);
      const messages = await drainQueue(stack.azurite.connectionString, 'users');
      assert.equal(new Set(messages.map((m) => m.user['id'] as string)).size, 3000, 'every user delivered');
      assert.equal(messages.length, 3000, 'no duplicates: page 2 had not been sent');
    } finally {
      await stack.stop();
    }
  });

  async function startStackCli(cwd: string): Promise<{ stop: () => Promise<{ code: number | null; stdout: string }>; stdout: () => string }> {
    const child = spawn(process.execPath, [join(dist, 'local/stack-cli.js'), '--users', '7'], { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const deadline = Date.now() + 30_000;
    while (!stdout.includes('Wrote local.settings.json') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    return {
      stdout: () => stdout,
      stop: async () => {
        child.kill('SIGINT');
        return { code: await exited, stdout };
      },
    };
  }

  it('npm run local:stack: writes a local.settings.json for func start, keeps yours meanwhile and puts it back on Ctrl-C', async () => {
    const cwd = mkdtempSync(join(suiteTmp, 'local-stack-'));
    writeFileSync(join(cwd, 'local.settings.json'), '{"Values":{"MINE":"1"}}');
    const cli = await startStackCli(cwd);
    assert.match(cli.stdout(), /Wrote local\.settings\.json \(SYNC_SCHEDULE "0 \*\/1 \* \* \* \*"\)/);

    const backups = readdirSync(cwd).filter((f) => f.startsWith('local.settings.json.bak-'));
    assert.equal(backups.length, 1);
    assert.equal(readFileSync(join(cwd, backups[0] ?? ''), 'utf8'), '{"Values":{"MINE":"1"}}');
    const written = JSON.parse(readFileSync(join(cwd, 'local.settings.json'), 'utf8')) as { _comment: string; Values: Record<string, string> };
    const values = written.Values;
    assert.match(written._comment, /removed when local:stack stops, and your own local\.settings\.json, if you had one, is put back/);
    assert.equal(values['FUNCTIONS_WORKER_RUNTIME'], 'node');
    assert.equal(values['NODE_EXTRA_CA_CERTS'], process.env['NODE_EXTRA_CA_CERTS']);
    assert.ok(values['IDENTITY_ENDPOINT']?.startsWith('http://127.0.0.1:'));
    assert.match(values['AzureWebJobsStorage'] ?? '', /BlobEndpoint=http:\/\/127\.0\.0\.1:\d+/, 'the timer needs blob storage');
    const settings = readSettings(values);
    assert.equal(settings.schedule, '0 */1 * * * *');

    const stopped = await cli.stop();
    assert.equal(stopped.code, 0, stopped.stdout);
    const blobPort = /BlobEndpoint=http:\/\/127\.0\.0\.1:(\d+)/.exec(values['AzureWebJobsStorage'] ?? '')?.[1];
    assert.equal(await isListening(Number(blobPort)), false, 'Azurite still listening after Ctrl-C');
    assert.deepEqual(readdirSync(cwd), ['local.settings.json'], 'no .bak-* left');
    assert.equal(readFileSync(join(cwd, 'local.settings.json'), 'utf8'), '{"Values":{"MINE":"1"}}', 'your file is back');
    assert.match(stopped.stdout, /Put your local\.settings\.json back/);
    rmSync(cwd, { recursive: true, force: true });
  });

  it('npm run sync -- --once --settings local.settings.json runs against npm run local:stack (the certificate the file names is trusted)', async () => {
    const cwd = mkdtempSync(join(suiteTmp, 'local-stack-'));
    const cli = await startStackCli(cwd);
    try {
      const env = cleanEnv();
      Reflect.deleteProperty(env, 'NODE_EXTRA_CA_CERTS'); // as in a new terminal: only the file names the certificate
      const result = await run('local/sync.js', ['--once', '--settings', join(cwd, 'local.settings.json')], env);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /Sync finished .*: 7 entries read in 1 page, 8 messages written/);
    } finally {
      const stopped = await cli.stop();
      assert.equal(stopped.code, 0, stopped.stdout);
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('npm run local:stack: without a local.settings.json of yours, the generated one is removed on Ctrl-C', async () => {
    const cwd = mkdtempSync(join(suiteTmp, 'local-stack-'));
    const cli = await startStackCli(cwd);
    assert.ok(existsSync(join(cwd, 'local.settings.json')), cli.stdout());
    const stopped = await cli.stop();
    assert.equal(stopped.code, 0, stopped.stdout);
    assert.deepEqual(readdirSync(cwd), [], 'no stale local.settings.json pointing at dead ports');
    rmSync(cwd, { recursive: true, force: true });
  });

  it('leaves no temp folder and no process behind (every command ran with TMPDIR in a folder of its own)', () => {
    assert.deepEqual(readdirSync(suiteTmp), []);
    if (existsSync('/proc')) {
      const marker = `TMPDIR=${suiteTmp}\0`;
      const left = readdirSync('/proc')
        .filter((pid) => /^\d+$/.test(pid) && Number(pid) !== process.pid)
        .filter((pid) => {
          try {
            return readFileSync(`/proc/${pid}/environ`, 'latin1').includes(marker);
          } catch {
            return false; // gone, or not ours
          }
        });
      assert.deepEqual(left, [], 'processes started by this suite still running');
    }
  });
});
