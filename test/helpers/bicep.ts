import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import Parser from 'tree-sitter';
import Bicep from 'tree-sitter-bicep';

/** infra/, the Bicep CLI finder and the parse helpers the infra tests share (tree-sitter-bicep for the structure tests). */
export const root = join(__dirname, '..', '..', '..');
export const infra = join(root, 'infra');

export function bicepFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'tools' ? [] : bicepFiles(path);
    return entry.name.endsWith('.bicep') ? [path] : [];
  });
}

const parser = new Parser();
parser.setLanguage(Bicep as Parser.Language);

/**
 * tree-sitter-bicep 1.1.0 predates the `extension <alias>` statement (Bicep's current way to load
 * the Microsoft Graph extension). Such a line is checked on its own against bicepconfig.json and
 * blanked (same length, so positions hold) before parsing; everything else is parsed as written.
 */
const extensionAliases = Object.keys((JSON.parse(readFileSync(join(infra, 'bicepconfig.json'), 'utf8')) as { extensions: Record<string, string> }).extensions);

export function parseBicep(path: string): Parser.Tree {
  const source = readFileSync(path, 'utf8').replace(/^extension (\w+)$/gm, (line, alias: string) => {
    assert.ok(extensionAliases.includes(alias), `${relative(root, path)}: extension ${alias} is not declared in infra/bicepconfig.json`);
    return '//'.padEnd(line.length, ' ');
  });
  return parser.parse(source);
}

/** Bicep text parsed as written (for the checks' own broken snippets). */
export function parseBicepText(source: string): Parser.Tree {
  return parser.parse(source);
}

/** Where tree-sitter could not parse: `line N: text`. */
export function errors(node: Parser.SyntaxNode, found: string[] = []): string[] {
  if (node.type === 'ERROR' || node.isMissing) found.push(`line ${node.startPosition.row + 1}: ${node.text.slice(0, 60)}`);
  for (const child of node.children) errors(child, found);
  return found;
}

/** A file's variables: name → value expression. */
export function variables(tree: Parser.SyntaxNode): Map<string, Parser.SyntaxNode> {
  return new Map(
    tree.descendantsOfType('variable_declaration').flatMap((v) => {
      const value = v.namedChildren.at(-1);
      return value === undefined ? [] : [[v.namedChildren[0]?.text ?? '', value] as const];
    }),
  );
}

/** Parameter values (and values of expressions such as `environment().suffixes.storage`) to evaluate with. */
export type Values = Readonly<Record<string, string | boolean>>;

/**
 * The value of a Bicep expression, for the subset used here: string literals and interpolations,
 * booleans, names given in `values`, the file's variables, == != && || !, ternaries, empty(),
 * replace(); undefined for anything it cannot tell.
 */
export function evaluate(
  node: Parser.SyntaxNode | undefined | null,
  values: Values,
  vars: ReadonlyMap<string, Parser.SyntaxNode>,
): string | boolean | undefined {
  if (!node) return undefined;
  if (node.text in values) return values[node.text];
  switch (node.type) {
    case 'parenthesized_expression':
      return evaluate(node.namedChildren[0], values, vars);
    case 'boolean':
      return node.text === 'true';
    case 'string': {
      let text = '';
      for (const part of node.namedChildren) {
        if (part.type === 'string_content') text += part.text;
        else if (part.type === 'escape_sequence' && /^\\['\\$]$/.test(part.text)) text += part.text.slice(1);
        else if (part.type === 'interpolation') {
          const value = evaluate(part.namedChildren[0], values, vars);
          if (typeof value !== 'string') return undefined;
          text += value;
        } else return undefined;
      }
      return text;
    }
    case 'identifier': {
      const value = vars.get(node.text);
      return value === undefined ? undefined : evaluate(value, values, vars);
    }
    case 'unary_expression': {
      const operand = evaluate(node.namedChildren[0], values, vars);
      return node.children[0]?.type === '!' && typeof operand === 'boolean' ? !operand : undefined;
    }
    case 'binary_expression': {
      const left = evaluate(node.childForFieldName('left'), values, vars);
      const right = evaluate(node.childForFieldName('right'), values, vars);
      const operator = node.children[1]?.type;
      if (operator === '&&') return left === false || right === false ? false : left === true && right === true ? true : undefined;
      if (operator === '||') return left === true || right === true ? true : left === false && right === false ? false : undefined;
      if (left === undefined || right === undefined) return undefined;
      if (operator === '==') return left === right;
      if (operator === '!=') return left !== right;
      return undefined;
    }
    case 'ternary_expression': {
      const condition = evaluate(node.childForFieldName('condition'), values, vars);
      if (typeof condition !== 'boolean') return undefined;
      return evaluate(node.childForFieldName(condition ? 'consequence' : 'alternative'), values, vars);
    }
    case 'call_expression': {
      const name = node.childForFieldName('function')?.text;
      const args = (node.childForFieldName('arguments')?.namedChildren ?? []).map((a) => evaluate(a, values, vars));
      if (name === 'empty' && args.length === 1 && typeof args[0] === 'string') return args[0] === '';
      if (name === 'replace' && args.length === 3 && args.every((a) => typeof a === 'string')) {
        const [text = '', from = '', to = ''] = args;
        return text.split(from).join(to);
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

/** The Bicep CLI pinned in infra/tools/bicep.csproj, restored by `dotnet restore infra/tools/bicep.csproj`. */
export const pinnedBicepVersion = '0.49.2';
const nugetBicep = join(
  infra,
  'tools',
  'packages',
  `azure.bicep.commandline.${process.platform === 'win32' ? 'win' : process.platform === 'darwin' ? 'osx' : 'linux'}-${process.arch === 'arm64' ? 'arm64' : 'x64'}`,
  pinnedBicepVersion,
  'tools',
  process.platform === 'win32' ? 'bicep.exe' : 'bicep',
);

export const howToGetBicep = `no Bicep CLI found (BICEP_PATH, bicep on PATH, az bicep, or the NuGet package): run \`dotnet restore infra/tools/bicep.csproj\` (the .NET SDK; brings Bicep ${pinnedBicepVersion} into infra/tools/packages/), or \`az bicep install\`, or set BICEP_PATH to a bicep binary`;

function runs(file: string, args: string[]): string | undefined {
  const result = spawnSync(file, args, { encoding: 'utf8', timeout: 60_000 });
  return result.status === 0 ? `${result.stdout}${result.stderr}` : undefined;
}

/**
 * The Bicep CLI to check infra/ with, in this order: BICEP_PATH; `bicep` on PATH; the one `az bicep`
 * installed (~/.azure/bin, which `az bicep build` runs); the NuGet package of infra/tools/bicep.csproj.
 * undefined when none runs.
 */
export function findBicep(): { path: string; version: string; source: string } | undefined {
  const home = process.env.HOME ?? process.env.USERPROFILE ?? '';
  const candidates: Array<[string, string]> = [];
  if (process.env.BICEP_PATH) candidates.push([process.env.BICEP_PATH, 'BICEP_PATH']);
  candidates.push(['bicep', 'PATH']);
  if (runs('az', ['bicep', 'version']) !== undefined)
    candidates.push([join(home, '.azure', 'bin', process.platform === 'win32' ? 'bicep.exe' : 'bicep'), 'az bicep']);
  candidates.push([nugetBicep, 'NuGet Azure.Bicep.CommandLine (infra/tools/bicep.csproj)']);
  for (const [path, source] of candidates) {
    if (path !== 'bicep' && !existsSync(path)) continue;
    const version = runs(path, ['--version'])?.match(/Bicep CLI version (\d+\.\d+\.\d+)/)?.[1];
    if (version) return { path, version, source };
  }
  return undefined;
}

/** One compiler or linter diagnostic: `<file>(<line>,<col>) : <Level> <code>: <message>`. */
export interface BicepDiagnostic {
  file: string;
  line: number;
  level: string;
  code: string;
  message: string;
}

export function parseDiagnostics(output: string): BicepDiagnostic[] {
  return [...output.matchAll(/^(.+?)\((\d+),\d+\) : (Error|Warning|Info) ([\w-]+): (.*)$/gm)].map((m) => ({
    file: relative(root, m[1] ?? ''),
    line: Number(m[2]),
    level: m[3] ?? '',
    code: m[4] ?? '',
    message: m[5] ?? '',
  }));
}
