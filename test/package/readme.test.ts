import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { SettingDefaults, SettingNames, allSettingNames } from '../../shared/internal';

// README.md and docs/*.md: their examples compile against the real code, with the project's strict
// options; their relative links resolve; docs/settings.md documents every setting once.
const root = join(__dirname, '..', '..', '..');
const docs = join(root, 'docs');
const read = (file: string): string => readFileSync(file, 'utf8');
const markdownFiles = (): string[] => [
  join(root, 'README.md'),
  ...readdirSync(docs)
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => join(docs, f)),
];

/** The text outside fenced code blocks (a `#` line in a shell block is not a heading, a `](` in code is not a link). */
const prose = (markdown: string): string => markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, '');

/** GitHub's anchor for a heading: lower case, punctuation dropped (not `-` or `_`), each space a `-`. */
const slug = (heading: string): string =>
  heading
    .replace(/`/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

/** The anchors of a markdown file's headings, with GitHub's -1, -2 … for a repeated one. */
function anchors(markdown: string): Set<string> {
  const found = new Set<string>();
  for (const [, heading = ''] of prose(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const base = slug(heading);
    let anchor = base;
    for (let n = 1; found.has(anchor); n++) anchor = `${base}-${n}`;
    found.add(anchor);
  }
  return found;
}

/** Relative link targets (links and images) of a markdown file, outside code. */
const relativeLinks = (markdown: string): string[] =>
  [
    ...prose(markdown)
      .replace(/`[^`\n]*`/g, '')
      .matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g),
  ]
    .map((m) => m[1] ?? '')
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));

/** Where each link of `file` fails to resolve: a missing file, or an anchor no heading of that file has. */
function deadLinks(file: string): string[] {
  const markdown = read(file);
  const dead: string[] = [];
  for (const target of relativeLinks(markdown)) {
    const [path = '', anchor] = target.split('#', 2);
    const resolved = path === '' ? file : join(dirname(file), decodeURIComponent(path));
    const name = `${relative(root, file)}: ${target}`;
    if (!existsSync(resolved)) {
      dead.push(`${name} (no file ${relative(root, resolved)})`);
    } else if (anchor !== undefined && anchor !== '') {
      if (!resolved.endsWith('.md') || statSync(resolved).isDirectory()) dead.push(`${name} (an anchor into a file that is not markdown)`);
      else if (!anchors(read(resolved)).has(anchor.toLowerCase())) dead.push(`${name} (no heading #${anchor} in ${relative(root, resolved)})`);
    }
  }
  return dead;
}

/** The rows of docs/settings.md's settings table, by the setting each names in its first cell. */
function settingsRows(): { name: string; cells: string[] }[] {
  const tables: string[][] = [];
  let previous = '';
  for (const line of prose(read(join(docs, 'settings.md'))).split('\n')) {
    if (line.startsWith('|') && !previous.startsWith('|')) tables.push([]);
    if (line.startsWith('|')) tables.at(-1)?.push(line);
    previous = line;
  }
  const settings = tables.filter((table) => (table[0] ?? '').startsWith('| setting |'));
  assert.equal(settings.length, 1, 'docs/settings.md has one settings table (a header row starting "| setting |")');
  const [header = '', separator = '', ...rows] = settings[0] ?? [];
  const columns = header.split('|').map((c) => c.trim());
  assert.deepEqual(columns.slice(1, 4), ['setting', 'default', 'what it does'], 'the table has columns setting, default, what it does');
  assert.match(separator, /^\|[-:| ]+\|$/);
  return rows.map((row) => {
    const cells = row
      .split(/(?<!\\)\|/)
      .slice(1, -1)
      .map((c) => c.trim());
    return { name: /^`([^`]+)`$/.exec(cells[0] ?? '')?.[1] ?? cells[0] ?? '', cells };
  });
}

describe('README', () => {
  it('starts with the two contract commands', () => {
    const readme = read(join(root, 'README.md'));
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const commands = firstBlock
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => l.replace(/\s+#.*$/, '').trim());
    assert.deepEqual(commands, ['npm ci && npm run local', 'npm test']);
  });

  it('states the supported Node versions (22, 24) in its first lines and in engines, as infra deploys', () => {
    const head = read(join(root, 'README.md')).split('\n').slice(0, 6).join('\n');
    assert.match(head, /Node\.js 22 or 24/);
    const pkg = JSON.parse(read(join(root, 'package.json'))) as { engines: { node: string } };
    assert.equal(pkg.engines.node, '>=22');
    const bicep = read(join(root, 'infra', 'main.bicep'));
    assert.match(bicep, /param nodeVersion string = '(22|24)'/);
  });

  it('fits on a few screens: at most 300 lines', () => {
    const lines = read(join(root, 'README.md')).replace(/\n$/, '').split('\n').length;
    assert.ok(lines <= 300, `README.md has ${lines} lines`);
  });

  it('and docs/*.md have TypeScript examples that type-check', () => {
    // Every example is compiled as a file at the repository root, so that its imports read './shared/…'.
    const snippets = markdownFiles().flatMap((file) => [...read(file).matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => ({ file, text: m[1] ?? '' })));
    assert.ok(snippets.length >= 3);
    assert.ok(
      snippets.some((s) => s.file !== join(root, 'README.md')),
      'docs/ holds examples too',
    );
    const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
    assert.ok(config);
    const files = new Map(snippets.map((s, i) => [join(root, `__readme_example_${i}.ts`), s]));
    const host = ts.createCompilerHost({ ...config.options, noEmit: true });
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, version) => {
      const snippet = files.get(name);
      return snippet === undefined ? getSourceFile(name, version) : ts.createSourceFile(name, snippet.text, version);
    };
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (name) => files.has(name) || fileExists(name);
    const program = ts.createProgram([...files.keys()], { ...config.options, noEmit: true }, host);
    const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.file === undefined || files.has(d.file.fileName));
    assert.deepEqual(
      diagnostics.map((d) => {
        const where = d.file === undefined ? '' : `${relative(root, files.get(d.file.fileName)?.file ?? '')}: `;
        return where + ts.flattenDiagnosticMessageText(d.messageText, '\n');
      }),
      [],
    );
  });

  it('and docs/*.md link only to files and headings that exist', () => {
    const files = markdownFiles();
    assert.ok(files.length >= 10, 'README.md and the docs/ topics');
    const links = files.flatMap((file) => relativeLinks(read(file)));
    assert.ok(links.length >= 20, `${links.length} relative links found`);
    assert.deepEqual(files.flatMap(deadLinks), []);
  });

  it('and docs/*.md name only source files that exist (a moved file leaves no stale path)', () => {
    const named = markdownFiles().flatMap((file) =>
      [...read(file).matchAll(/\b(?:shared|functions|local)\/[\w/.-]+\.ts\b/g)].map((m) => `${relative(root, file)}: ${m[0]}`),
    );
    assert.ok(named.length > 10, 'the docs name source files');
    assert.deepEqual(
      named.filter((entry) => !existsSync(join(root, entry.split(': ')[1] ?? ''))),
      [],
    );
  });

  it('links every docs/ topic from README.md', () => {
    const readme = read(join(root, 'README.md'));
    for (const f of readdirSync(docs).filter((f) => f.endsWith('.md'))) assert.ok(readme.includes(`](docs/${f}`), `README.md links docs/${f}`);
  });
});

describe('docs/settings.md', () => {
  it('has one row for every setting shared/settings/names.ts names', () => {
    const rows = settingsRows();
    for (const name of allSettingNames) {
      const count = rows.filter((r) => r.name === name).length;
      assert.equal(count, 1, `${name}: ${count} rows`);
    }
  });

  it('has no row twice, and each gives a default and what it does', () => {
    const rows = settingsRows();
    const names = rows.map((r) => r.name);
    assert.deepEqual(
      names.filter((n, i) => names.indexOf(n) !== i),
      [],
    );
    for (const { name, cells } of rows) {
      assert.equal(cells.length, 3, `${name}: setting, default, what it does`);
      assert.ok((cells[1] ?? '') !== '' && (cells[2] ?? '') !== '', `${name}: a default and what it does`);
    }
  });

  it('gives the code’s defaults', () => {
    const rows = settingsRows();
    for (const [key, value] of Object.entries(SettingDefaults)) {
      if (String(value) === '') continue;
      const name = SettingNames[key as keyof typeof SettingDefaults];
      const row = rows.find((r) => r.name === name);
      assert.ok(row?.cells[1]?.includes(`\`${String(value)}\``), `${name}: default \`${String(value)}\` (${row?.cells[1] ?? 'no row'})`);
    }
  });
});
