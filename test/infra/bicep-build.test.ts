import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { type BicepDiagnostic, bicepFiles, findBicep, howToGetBicep, infra, parseDiagnostics, root } from '../helpers/bicep';

// Every template through the real Bicep compiler and linter (issue 23): `bicep build` (ARM JSON to
// a temp dir) and `bicep lint`, with the analyzer rules of infra/bicepconfig.json, most at level
// error. 0 errors and 0 warnings, except what comes from the one artifact no machine here can
// restore: main-graph.bicep's Microsoft Graph extension (infra/README.md, "How infra/ is checked").
// --no-restore: nothing in infra/ may need a registry; a br: module would show as BCP190.

const bicep = findBicep();
// On a laptop without a compiler only these checks are skipped; under CI=true that is a failure.
const skip = bicep === undefined && process.env.CI !== 'true' ? howToGetBicep : false;

function run(args: string[]): { status: number | null; diagnostics: BicepDiagnostic[]; output: string } {
  assert.ok(bicep, howToGetBicep);
  const result = spawnSync(bicep.path, args, { cwd: root, encoding: 'utf8', timeout: 180_000 });
  const output = `${result.stdout}${result.stderr}`;
  return { status: result.status, diagnostics: parseDiagnostics(output), output };
}

/**
 * Diagnostics that only say the Graph extension was not restored: BCP190 on main-graph.bicep's
 * `extension` line, BCP029 on its Microsoft.Graph resource declarations (without the extension
 * their types are unknown), and BCP062 on references to those resources. Anything else in that
 * file (a main.bicep parameter passed wrong, an unused variable, ...) still fails.
 */
function fromUnrestoredExtension(d: BicepDiagnostic): boolean {
  if (d.file !== join('infra', 'main-graph.bicep')) return false;
  const lines = readFileSync(join(infra, 'main-graph.bicep'), 'utf8').split('\n');
  const text = lines[d.line - 1] ?? '';
  const graphSymbols = lines.flatMap((l) => /^resource (\w+) 'Microsoft\.Graph\//.exec(l)?.[1] ?? []);
  if (d.code === 'BCP190') return /^extension microsoftGraphV1\s*$/.test(text);
  if (d.code === 'BCP029') return /^resource \w+ 'Microsoft\.Graph\/[\w/]+@v1\.0'/.test(text);
  if (d.code === 'BCP062') return graphSymbols.some((s) => d.message.includes(`"${s}"`));
  return false;
}

function show(diagnostics: BicepDiagnostic[]): string {
  return diagnostics.map((d) => `${d.file}:${d.line} ${d.level} ${d.code}: ${d.message}`).join('\n');
}

describe(`infra/ through the Bicep compiler (${bicep ? `${bicep.version}, ${bicep.source}` : 'not found'})`, { skip }, () => {
  const files = bicepFiles(infra).map((f) => relative(root, f));

  it('finds every template: main.bicep, main-graph.bicep and the modules', () => {
    assert.ok(files.includes(join('infra', 'main.bicep')) && files.includes(join('infra', 'main-graph.bicep')), files.join(', '));
    assert.ok(files.filter((f) => f.startsWith(join('infra', 'modules'))).length >= 8, files.join(', '));
  });

  it('bicep build compiles every template with 0 errors and 0 warnings (main-graph.bicep: all but the unrestorable Graph extension)', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'bicep-build-'));
    try {
      const { diagnostics, output } = run(['build', '--pattern', 'infra/**/*.bicep', '--outdir', outdir, '--no-restore']);
      const unexpected = diagnostics.filter((d) => !fromUnrestoredExtension(d));
      assert.deepEqual(show(unexpected), '', `bicep build:\n${output}`);
      // The check reads the compiler's output: it must have seen main-graph.bicep's extension.
      assert.ok(
        diagnostics.some((d) => d.code === 'BCP190'),
        `expected BCP190 for the Graph extension (is it restorable now? then drop the exception):\n${output}`,
      );
      for (const file of files.filter((f) => !f.endsWith('main-graph.bicep'))) {
        // --pattern keeps the layout under infra/: <outdir>/main.json, <outdir>/modules/<name>.json.
        const json = join(outdir, relative('infra', file).replace(/\.bicep$/, '.json'));
        const template = JSON.parse(readFileSync(json, 'utf8')) as { $schema?: string };
        assert.match(template.$schema ?? '', /deploymentTemplate\.json/, file);
      }
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  it('bicep lint reports 0 errors and 0 warnings with the rules of infra/bicepconfig.json (main-graph.bicep: all but the Graph extension)', () => {
    const { diagnostics, output } = run(['lint', '--pattern', 'infra/**/*.bicep', '--no-restore']);
    assert.deepEqual(show(diagnostics.filter((d) => !fromUnrestoredExtension(d))), '', `bicep lint:\n${output}`);
  });

  it('infra/bicepconfig.json raises the analyzer rules to error, and names why each one that is off is off', () => {
    const config = JSON.parse(readFileSync(join(infra, 'bicepconfig.json'), 'utf8')) as {
      analyzers: { core: { enabled: boolean; rules: Record<string, { level: string }> } };
    };
    assert.equal(config.analyzers.core.enabled, true);
    const levels = Object.entries(config.analyzers.core.rules);
    assert.ok(levels.filter(([, r]) => r.level === 'error').length >= 30, 'most rules at error');
    const readme = readFileSync(join(infra, 'README.md'), 'utf8');
    for (const [rule] of levels.filter(([, r]) => r.level !== 'error'))
      assert.match(readme, new RegExp(`\`${rule}\``), `infra/README.md says why ${rule} is not an error`);
  });
});
