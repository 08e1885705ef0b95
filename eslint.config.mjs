import js from '@eslint/js';
import boundaries from 'eslint-plugin-boundaries';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

// The layering of shared/ (issue 21), lowest first: a folder may import only the entry (index.ts)
// of a folder before it; queue and state are beside each other (neither imports the other); run
// imports them all. shared/index.ts is the public surface (functions/, local/), shared/internal.ts
// the internal one (test/, local/bench/).
const layers = [['core'], ['settings'], ['storage'], ['credential'], ['token'], ['graph'], ['messages'], ['queue', 'state'], ['run']];
const folders = layers.flat();
const below = (folder) =>
  layers
    .slice(
      0,
      layers.findIndex((layer) => layer.includes(folder)),
    )
    .flat();
/** A boundaries selector of the elements of these types. */
const element = (types) => ({ element: { type: types } });
/** A boundaries selector of the files of these categories (shared/index.ts, shared/internal.ts). */
const file = (categories) => ({ file: { categories } });
const tsResolver = createTypeScriptImportResolver({ project: 'tsconfig.json' });

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-confusing-void-expression': 'off',
      '@typescript-eslint/no-unnecessary-condition': 'off',
      'no-restricted-properties': 'off',
    },
  },
  {
    // Settings are read in one place: shared/settings/settings.ts is handed process.env by functions/.
    files: ['shared/**/*.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read settings in shared/settings/settings.ts only, from the env passed in.' },
      ],
    },
  },
  {
    // node:test's describe/it return promises the runner itself awaits.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
    },
  },
  {
    // The layering: no import cycles (import-x), and which folder may import which (boundaries).
    files: ['**/*.ts'],
    plugins: { 'import-x': importX, boundaries },
    settings: {
      'import-x/extensions': ['.ts', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [tsResolver],
      'import/resolver': { typescript: { project: 'tsconfig.json' } },
      // shared/index.ts and shared/internal.ts are files, told apart by category (elements are folders).
      'boundaries/files': [
        { category: 'shared-index', pattern: 'shared/index.ts' },
        { category: 'shared-internal', pattern: 'shared/internal.ts' },
      ],
      'boundaries/elements': [
        ...folders.map((folder) => ({ type: folder, pattern: `shared/${folder}` })),
        { type: 'functions', pattern: 'functions' },
        { type: 'bench', pattern: 'local/bench' },
        { type: 'local', pattern: 'local' },
        { type: 'test', pattern: 'test' },
      ],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'boundaries/dependencies': [
        'error',
        {
          default: 'disallow',
          checkUnknownLocals: true,
          message: '{{from.type}} may not import {{dependency.source}} ({{to.type}}): see the layering in eslint.config.mjs',
          policies: [
            ...folders.map((folder) => ({ from: element(folder), allow: { to: element(below(folder)) } })),
            { from: file('shared-index'), allow: { to: element(folders) } },
            { from: file('shared-internal'), allow: { to: [element(folders), file('shared-index')] } },
            // local/bench.ts is the bench's command line (it takes the public surface only).
            { from: element(['functions', 'local']), allow: { to: [file('shared-index'), element(['functions', 'local'])] } },
            { from: element('local'), allow: { to: element('bench') } },
            { from: element(['bench', 'test']), allow: { to: [file(['shared-index', 'shared-internal']), element(['functions', 'local', 'bench', 'test'])] } },
            // Another folder of shared/ is reached through its entry, index.ts, only (imports inside a folder are not checked).
            {
              disallow: { to: { element: { type: folders, fileInternalPath: '!index.ts' } } },
              message: 'import {{dependency.source}} through its folder entry (index.ts) only',
            },
          ],
        },
      ],
    },
  },
  {
    // Errors are made by their family's factory (shared/<folder>/errors.ts: codes, message table,
    // createXxxError; see shared/core/sync-error.ts), so that every message text is in one place.
    files: ['shared/**/*.ts', 'functions/**/*.ts', 'local/**/*.ts'],
    ignores: ['shared/*/errors.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'NewExpression[callee.name=/^(SyncError|SettingsError|GraphResyncRequired|RemovalsHeldError)$/]',
          message: "Make errors with the family's factory (createXxxError in shared/<folder>/errors.ts), whose message table holds the text.",
        },
        {
          selector: "ClassDeclaration[superClass.name='SyncError']",
          message: "A typed SyncError belongs in its family's errors module (shared/<folder>/errors.ts).",
        },
      ],
    },
  },
  {
    // Functions a reader takes in at once (issue 21): every line counts, blanks and comments too (as house.mjs measures).
    files: ['shared/**/*.ts', 'functions/**/*.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 80, skipBlankLines: false, skipComments: false }] },
  },
  { files: ['**/*.mjs'], ...tseslint.configs.disableTypeChecked },
);
