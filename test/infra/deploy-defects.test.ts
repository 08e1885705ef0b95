import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findBicep, howToGetBicep, infra, root } from '../helpers/bicep';

// The deploy defects of issue 23 (an infra review), each where it can be seen without Azure: the
// azd hook as a shell runs it, the parameter files as azd substitutes them, host.json, and the
// compiled ARM template (bicep build) for ordering, naming and the early checks.

const azureYaml = readFileSync(join(root, 'azure.yaml'), 'utf8');

/** The `run:` of one postprovision block (single-quoted YAML scalar, as azure.yaml writes them). */
function hook(os: 'posix' | 'windows'): { shell: string; run: string } {
  const block = new RegExp(`\\n {4}${os}:\\n {6}shell: (\\w+)\\n {6}run: '((?:[^']|'')*)'\\n`).exec(azureYaml);
  assert.ok(block, `azure.yaml hooks.postprovision.${os} with shell and run`);
  return { shell: block[1] ?? '', run: (block[2] ?? '').replace(/''/g, "'") };
}

const bicep = findBicep();
const noCompiler = bicep === undefined && process.env.CI !== 'true' ? howToGetBicep : false;
let compiled: { variables: Record<string, string>; resources: { name?: string; dependsOn?: string[] }[]; parameters: Record<string, unknown> } | undefined;
function template(): NonNullable<typeof compiled> {
  assert.ok(bicep, howToGetBicep);
  if (!compiled) {
    const run = spawnSync(bicep.path, ['build', join(infra, 'main.bicep'), '--stdout', '--no-restore'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(run.status, 0, run.stderr);
    compiled = JSON.parse(run.stdout) as NonNullable<typeof compiled>;
  }
  return compiled;
}

describe('deploy defects (issue 23, part 3)', () => {
  it('1, 8: the postprovision hook exists for posix and Windows, and says per path whether admin consent is left to do', () => {
    const posix = hook('posix');
    const windows = hook('windows');
    assert.equal(posix.shell, 'sh');
    assert.equal(windows.shell, 'pwsh');
    const url = 'https://login.microsoftonline.com/t/adminconsent?client_id=c';
    for (const [granted, expected] of [
      ['true', /granted the app its Microsoft Graph application permissions.*no admin consent is needed/],
      ['false', new RegExp(`Grant admin consent for User\\.Read\\.All .*: ${url.replace(/[.?]/g, '\\$&')}$`)],
      ['', /Grant admin consent/],
    ] as const) {
      const run = spawnSync('sh', ['-c', posix.run], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, ADMIN_CONSENT_GRANTED: granted, ADMIN_CONSENT_URL: url },
      });
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout.trim(), expected, `ADMIN_CONSENT_GRANTED=${granted}`);
    }
    // pwsh is not on these machines: the Windows block says the same two things on the same variable.
    assert.match(windows.run, /\$env:ADMIN_CONSENT_GRANTED -eq "true"/);
    for (const text of ['no admin consent is needed', 'Grant admin consent for User.Read.All', '$env:ADMIN_CONSENT_URL'])
      assert.ok(windows.run.includes(text), text);
  });

  it('4: every defaulted azd variable in the parameter files uses :- (a default also when set but empty)', () => {
    for (const file of ['main.parameters.json', 'main-graph.parameters.json']) {
      const text = readFileSync(join(infra, file), 'utf8');
      const defaulted = [...text.matchAll(/\$\{(\w+)([:=-]+)([^}]*)\}/g)];
      assert.ok(defaulted.length > 0, `${file} has defaulted variables`);
      for (const [all, , operator] of defaulted) assert.equal(operator, ':-', `${file}: ${all}`);
    }
  });

  it('5: host.json sets no Application Insights sampling under OpenTelemetry (it would have no effect)', () => {
    const host = JSON.parse(readFileSync(join(root, 'host.json'), 'utf8')) as { telemetryMode?: string; logging?: { applicationInsights?: unknown } };
    assert.equal(host.telemetryMode, 'OpenTelemetry');
    assert.equal(host.logging?.applicationInsights, undefined);
    assert.match(readFileSync(join(infra, 'README.md'), 'utf8'), /samplingSettings/);
  });

  describe('in the compiled template (bicep build)', { skip: noCompiler }, () => {
    it('2: resource names take the sanitised environment name, within 20 characters; the azd tag keeps it as given', () => {
      const { variables, parameters } = template();
      assert.deepEqual((parameters['environmentName'] as { maxLength?: number }).maxLength, 64, "azd's limit");
      assert.match(variables['environmentStem'] ?? '', /map\(range\(0, length\(variables\('lowerEnvironmentName'\)\)\)/);
      assert.match(variables['lowerEnvironmentName'] ?? '', /toLower\(take\(parameters\('environmentName'\), 20\)\)/);
      const source = readFileSync(join(infra, 'main.bicep'), 'utf8');
      assert.doesNotMatch(source, /-\$\{environmentName\}-/, 'no name built from the raw environmentName');
      assert.match(source, /'azd-env-name': environmentName/);
    });

    it("3: the Function App (and its first start) waits for the identity's role assignments", () => {
      const app = template().resources.find((r) => r.name === 'functionapp');
      assert.ok(app?.dependsOn?.includes("[resourceId('Microsoft.Resources/deployments', 'rbac')]"), JSON.stringify(app?.dependsOn));
      assert.match(readFileSync(join(infra, 'README.md'), 'utf8'), /first `azd deploy` .*re-run|re-run .*first `azd deploy`/s);
    });

    it('6: keyVaultNameSuffix with anything but letters and digits stops the deployment with what to do', () => {
      const { variables } = template();
      assert.match(
        variables['keyVaultName'] ?? '',
        /^\[if\(empty\(variables\('suffixRefused'\)\), .*fail\('keyVaultNameSuffix \(KEY_VAULT_NAME_SUFFIX\) may hold letters and digits only/,
      );
      assert.match(
        variables['suffixRefused'] ?? '',
        /contains\('abcdefghijklmnopqrstuvwxyz0123456789', toLower\(substring\(parameters\('keyVaultNameSuffix'\)/,
      );
    });

    it('7: a location without Flex Consumption stops the deployment with the list; every resource is placed in the checked location', () => {
      const { variables } = template();
      const regions = variables['flexConsumptionRegions'] as unknown as string[];
      assert.ok(Array.isArray(regions) && regions.includes('eastus') && regions.includes('swedencentral') && regions.length >= 30, String(regions));
      assert.match(variables['appLocation'] ?? '', /fail\(format\('location .*has no Flex Consumption plan/);
      assert.doesNotMatch(readFileSync(join(infra, 'main.bicep'), 'utf8'), /location: location\b/);
    });

    it('9: the host gets its table endpoint and the table role, so it keeps its diagnostic events', () => {
      const app = readFileSync(join(infra, 'modules', 'functionapp.bicep'), 'utf8');
      assert.match(app, /AzureWebJobsStorage__tableServiceUri: tableEndpoint/);
      const rbac = readFileSync(join(infra, 'modules', 'rbac.bicep'), 'utf8');
      assert.match(rbac, /storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'/);
      assert.match(rbac, /resource appTableContributor [^]*?roles\.storageTableDataContributor/);
    });
  });
});
