import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import ignore from 'ignore';

// The deployment package: the files `azd deploy` and `func azure functionapp publish` would upload
// from this checkout, computed from .funcignore the way each tool applies it, and what the remote
// build (Flex Consumption: `npm install`, then `npm run build`) needs in it.
const root = join(__dirname, '..', '..', '..');
const funcignore = readFileSync(join(root, '.funcignore'), 'utf8');
const patterns = funcignore
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));

/**
 * azd (1.18.0 and later) applies .funcignore with gitignore rules (github.com/denormal/go-gitignore,
 * cli/azd/pkg/project/project_utils.go), skips `.azure` and the ignore file itself and, for a
 * Function App, local.settings.json. The `ignore` package implements the same gitignore rules.
 */
const gitignoreRules = ignore().add(funcignore);
function azdExcludes(path: string, isDir: boolean): boolean {
  const name = path.split('/').at(-1) ?? '';
  if (isDir && name === '.azure') return true;
  if (!isDir && (name === '.funcignore' || name === 'local.settings.json')) return true;
  return gitignoreRules.ignores(isDir ? `${path}/` : path);
}

/**
 * Azure Functions Core Tools (src/Cli/func/Common/GitIgnoreParser.cs, after codemix/gitignore-parser;
 * FileSystemHelpers.GetLocalFiles) tests each file's path from the project root against every
 * pattern, read as: a leading `/` dropped, the pattern anchored at the start of the path, `**`
 * matching anything, `*` anything but `/`, and the match ending at a word boundary. It always skips
 * directories named .git and .vscode, and files named .funcignore, .gitignore, local.settings.json
 * and project.lock.json. This is that reading, for the patterns this project writes (no `!`).
 */
const coreToolsPattern = new RegExp(
  `^(?:${patterns
    .map((p) =>
      p
        .replace(/^\//, '')
        .replace(/[-[\]/{}()+?.\\^$|]/g, '\\$&')
        .replace(/\*\*/g, '(.+)')
        .replace(/\*/g, '([^\\/]+)'),
    )
    .map((p) => `(?:${p})`)
    .join('|')})\\b`,
);
function coreToolsExcludes(path: string, isDir: boolean): boolean {
  const name = path.split('/').at(-1) ?? '';
  if (isDir) return name === '.git' || name === '.vscode';
  if (['.funcignore', '.gitignore', 'local.settings.json', 'project.lock.json'].includes(name)) return true;
  return coreToolsPattern.test(path);
}

/**
 * The files a tool would upload from this checkout. `.git` is left out (a directory in a clone,
 * which both tools skip; a file in a git worktree). A directory both tools leave out whole is not
 * walked: for Core Tools, which tests files only, each entry directly in it (with a file below, for
 * a directory) stands for its content, so that `node_modules/.bin` counts.
 */
function packageFiles(excludes: (path: string, isDir: boolean) => boolean, otherExcludes: (path: string, isDir: boolean) => boolean): string[] {
  const files: string[] = [];
  const walk = (dir: string, prefix: string): void => {
    for (const name of readdirSync(dir).sort()) {
      if (prefix === '' && name === '.git') continue;
      const path = prefix === '' ? name : `${prefix}/${name}`;
      const isDir = statSync(join(dir, name)).isDirectory();
      if (isDir) {
        const children = readdirSync(join(dir, name)).map((child) =>
          statSync(join(dir, name, child)).isDirectory() ? `${path}/${child}/file` : `${path}/${child}`,
        );
        const wholeDirectory = (f: typeof excludes): boolean => f(path, true) || children.every((child) => f(child, false));
        if (wholeDirectory(excludes) && wholeDirectory(otherExcludes)) continue;
        if (!excludes(path, true)) walk(join(dir, name), path);
      } else if (!excludes(path, false)) {
        files.push(path);
      }
    }
  };
  walk(root, '');
  return files;
}

describe('the deployment package (.funcignore)', () => {
  const azd = packageFiles(azdExcludes, coreToolsExcludes);
  const coreTools = packageFiles(coreToolsExcludes, azdExcludes);
  const dependencies = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };

  it('is the same for azd and Core Tools', () => {
    assert.ok(!patterns.some((p) => p.startsWith('!')), 'no negated patterns: azd and Core Tools read them differently');
    assert.deepEqual(coreTools, azd);
  });

  for (const [tool, files] of [
    ['azd', azd],
    ['Core Tools', coreTools],
  ] as const) {
    it(`holds the compiled app, its host and package files, and nothing of tests, the local stack or dependencies (${tool})`, () => {
      const compiled = (dir: string): string[] =>
        readdirSync(join(root, 'dist', dir))
          .filter((f) => f.endsWith('.js'))
          .map((f) => `dist/${dir}/${f}`);
      for (const f of [...compiled('functions'), ...compiled('shared'), 'host.json', 'package.json', 'package-lock.json', 'tsconfig.json'])
        assert.ok(files.includes(f), `${f} is in the package`);
      assert.ok(files.includes('dist/functions/syncUsers.js'), 'package.json main (dist/functions/*.js) finds the functions');

      const forbidden = files.filter(
        (f) =>
          /^(test|local|infra|schema|docs|node_modules|dist\/test|dist\/local|\.ci|\.azure|\.local|\.vscode)\//.test(f) ||
          /(^|\/)local\.settings\.json/.test(f) ||
          /\.(js\.map|log|pem|pfx|p12|key)$/.test(f) ||
          ['eslint.config.mjs', 'README.md', 'azure.yaml', '.gitignore', '.funcignore'].includes(f),
      );
      assert.deepEqual(forbidden, []);
      // No dependency of either kind is uploaded: the remote build installs them.
      for (const name of [...Object.keys(dependencies.dependencies), ...Object.keys(dependencies.devDependencies)]) {
        assert.ok(!files.some((f) => f.startsWith(`node_modules/${name}/`)), `node_modules/${name} is not uploaded`);
      }

      // Only what the app and its remote build need, at the top and under dist/.
      const top = [...new Set(files.map((f) => f.split('/')[0] ?? ''))].sort();
      assert.deepEqual(
        top,
        ['dist', 'functions', 'host.json', 'package-lock.json', 'package.json', 'shared', 'tsconfig.json'],
        'top-level entries of the package',
      );
      assert.deepEqual([...new Set(files.filter((f) => f.startsWith('dist/')).map((f) => f.split('/')[1]))].sort(), ['functions', 'shared']);
    });
  }

  it('carries exactly the TypeScript sources the remote `npm run build` compiles, and they import nothing left out', () => {
    // Flex Consumption's remote build (Oryx) runs `npm install`, then `npm run build` when
    // package.json has a build script: tsc -p tsconfig.json, which needs tsconfig.json and sources.
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts['build'], 'tsc -p tsconfig.json');
    const sources = (dir: string): string[] =>
      readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.ts'))
        .map((f) => `${dir}/${f.replace(/\\/g, '/')}`);
    const expected = [...sources('functions'), ...sources('shared')].sort();
    assert.deepEqual(azd.filter((f) => f.endsWith('.ts')).sort(), expected, 'the .ts files in the package are functions/ and shared/, no test or local source');
    for (const file of expected) {
      const text = readFileSync(join(root, file), 'utf8');
      for (const [, spec = ''] of text.matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
        const target = join(file, '..', spec).replace(/\\/g, '/');
        assert.ok(azd.includes(`${target}.ts`) || azd.includes(`${target}/index.ts`), `${file} imports ${spec}, which is not in the package`);
      }
      for (const [, spec = ''] of text.matchAll(/from '([^.'][^']*)'/g)) {
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? '');
        if (name.startsWith('node:')) continue;
        assert.ok(name in dependencies.dependencies, `${file} imports ${name}, which is not a dependency (the app runs with dependencies only)`);
      }
    }
  });

  it('leaves out node_modules as azd checks it (remoteBuild: true requires it), and what may hold secrets', () => {
    // azd: `ignore.Relative("node_modules", true)` must match, or remoteBuild: true is refused.
    assert.ok(azdExcludes('node_modules', true));
    assert.match(readFileSync(join(root, 'azure.yaml'), 'utf8'), /^ {4}remoteBuild: true$/m);
    // Paths that may not exist in this checkout, each left out by both tools.
    for (const path of [
      'local.settings.json.bak-20250101',
      '.local/state.json',
      'npm-debug.log',
      'dist/functions/syncUsers.js.map',
      'cert.pem',
      'graph-sync-cert.pfx',
      'cert-policy.json',
      'node_modules/.bin/tsc',
      'node_modules/.package-lock.json',
      'test/helpers/.hidden',
    ]) {
      assert.ok(azdExcludes(path, false), `azd leaves out ${path}`);
      assert.ok(coreToolsExcludes(path, false), `Core Tools leaves out ${path}`);
    }
    // The word-boundary reading is why directories carry no trailing slash: `node_modules/` would
    // let Core Tools upload node_modules/.bin.
    assert.equal(/^(?:node_modules\/)\b/.test('node_modules/.bin/tsc'), false);
    assert.ok(existsSync(join(root, '.funcignore')));
  });
});
