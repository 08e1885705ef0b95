import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';

// README examples must compile against the real code, with the project's strict options.
const root = join(__dirname, '..', '..', '..');

describe('README', () => {
  it('starts with the two contract commands', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const commands = firstBlock
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => l.replace(/\s+#.*$/, '').trim());
    assert.deepEqual(commands, ['npm ci && npm run local', 'npm test']);
  });

  it('states the supported Node versions (22, 24) in its first lines and in engines, as infra deploys', () => {
    const head = readFileSync(join(root, 'README.md'), 'utf8').split('\n').slice(0, 6).join('\n');
    assert.match(head, /Node\.js 22 or 24/);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
    assert.equal(pkg.engines.node, '>=22');
    const bicep = readFileSync(join(root, 'infra', 'main.bicep'), 'utf8');
    assert.match(bicep, /param nodeVersion string = '(22|24)'/);
  });

  it('has TypeScript examples that type-check', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const snippets = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
    assert.ok(snippets.length >= 2);
    const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
    assert.ok(config);
    const files = new Map(snippets.map((text, i) => [join(root, `__readme_example_${i}.ts`), text]));
    const host = ts.createCompilerHost({ ...config.options, noEmit: true });
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, version) => {
      const text = files.get(name);
      return text === undefined ? getSourceFile(name, version) : ts.createSourceFile(name, text, version);
    };
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (name) => files.has(name) || fileExists(name);
    const program = ts.createProgram([...files.keys()], { ...config.options, noEmit: true }, host);
    const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.file === undefined || files.has(d.file.fileName));
    assert.deepEqual(
      diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')),
      [],
    );
  });
});
