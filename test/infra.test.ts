import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import Parser from 'tree-sitter';
import Bicep from 'tree-sitter-bicep';
import { allSettingNames } from '../shared/settings';

// infra/ without Azure: syntax (tree-sitter-bicep), settings drift against shared/settings.ts and
// local.settings.json.example, and least-privilege rules.
const root = join(__dirname, '..', '..');
const infra = join(root, 'infra');

function bicepFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return bicepFiles(path);
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

function parseBicep(path: string): Parser.Tree {
  const source = readFileSync(path, 'utf8').replace(/^extension (\w+)$/gm, (line, alias: string) => {
    assert.ok(extensionAliases.includes(alias), `${relative(root, path)}: extension ${alias} is not declared in infra/bicepconfig.json`);
    return '//'.padEnd(line.length, ' ');
  });
  return parser.parse(source);
}

function errors(node: Parser.SyntaxNode, found: string[] = []): string[] {
  if (node.type === 'ERROR' || node.isMissing) found.push(`line ${node.startPosition.row + 1}: ${node.text.slice(0, 60)}`);
  for (const child of node.children) errors(child, found);
  return found;
}

function descendants(node: Parser.SyntaxNode, type: string): Parser.SyntaxNode[] {
  return node.descendantsOfType(type);
}

/** Keys of an object literal (its direct properties). */
function objectKeys(object: Parser.SyntaxNode): string[] {
  return object.namedChildren.filter((c) => c.type === 'object_property').map((p) => p.namedChildren[0]?.text.replace(/^'|'$/g, '') ?? '');
}

function appSettingsAssignedByBicep(): Set<string> {
  const main = parseBicep(join(infra, 'main.bicep')).rootNode;
  const syncSettings = descendants(main, 'variable_declaration').find((v) => v.namedChildren[0]?.text === 'syncSettings');
  const syncObject = syncSettings?.namedChildren.find((c) => c.type === 'object');
  assert.ok(syncObject, 'main.bicep declares var syncSettings = { ... }');

  const app = parseBicep(join(infra, 'modules', 'functionapp.bicep')).rootNode;
  const config = descendants(app, 'resource_declaration').find((r) => /'config'/.test(r.namedChildren[1]?.text ?? '') && /name: 'appsettings'/.test(r.text));
  assert.ok(config, "functionapp.bicep declares the 'appsettings' config resource");
  const union = descendants(config, 'call_expression').find((c) => c.childForFieldName('function')?.text === 'union');
  const args = union?.childForFieldName('arguments')?.namedChildren ?? [];
  assert.equal(args[0]?.text, 'syncSettings', 'app settings are union(syncSettings, { ...platform settings })');
  const platform = args[1];
  assert.ok(platform?.type === 'object');
  return new Set([...objectKeys(syncObject), ...objectKeys(platform)]);
}

// Settings the Functions platform or host reads, not shared/settings.ts.
const platformSettings = ['APPLICATIONINSIGHTS_CONNECTION_STRING', 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', 'AzureWebJobsStorage__blobServiceUri'];
// Settings the code reads that Azure must not get: a connection string carries a key (the account
// has shared keys disabled); __accountName is an alternative to the __queueServiceUri used here.
const notInAzure = ['AzureWebJobsStorage', 'AzureWebJobsStorage__accountName'];

// Every built-in role this project may assign, by id and name.
const builtInRoles: Record<string, string> = {
  '4633458b-17de-408a-b874-0445c86b69e6': 'Key Vault Secrets User',
  'b86a8fe4-44ce-4948-aee5-eccb2c155cd7': 'Key Vault Secrets Officer',
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': 'Storage Blob Data Owner',
  'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a': 'Storage Queue Data Message Sender',
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88': 'Storage Queue Data Contributor',
  '3913510d-42f4-4e42-8a64-420c390055eb': 'Monitoring Metrics Publisher',
};

describe('infra/', () => {
  const files = bicepFiles(infra);

  it('has main.bicep, its modules, parameters, README and azure.yaml', () => {
    for (const f of ['main.bicep', 'main.parameters.json', 'README.md', 'bicepconfig.json']) assert.ok(existsSync(join(infra, f)), f);
    assert.ok(files.length >= 6);
    const azureYaml = readFileSync(join(root, 'azure.yaml'), 'utf8');
    assert.match(azureYaml, /language: ts/);
    assert.match(azureYaml, /host: function/);
    assert.match(readFileSync(join(root, 'README.md'), 'utf8'), /\(infra\/README\.md\)/);
  });

  for (const file of files) {
    it(`${relative(root, file)} parses without an ERROR node`, () => {
      const tree = parseBicep(file);
      assert.deepEqual(errors(tree.rootNode), []);
      assert.equal(tree.rootNode.hasError, false);
    });
  }

  it('the parse check catches a broken file', () => {
    assert.equal(parser.parse("param x string = 'a'\nresource r 'T@1' = {\n  name: \n").rootNode.hasError, true);
  });

  it('main.parameters.json only names parameters main.bicep declares', () => {
    const declared = new Set(descendants(parseBicep(join(infra, 'main.bicep')).rootNode, 'parameter_declaration').map((p) => p.namedChildren[0]?.text));
    const given = Object.keys((JSON.parse(readFileSync(join(infra, 'main.parameters.json'), 'utf8')) as { parameters: object }).parameters);
    for (const name of given) assert.ok(declared.has(name), `${name} is not a parameter of main.bicep`);
  });

  it('assigns exactly the app settings the code reads (plus named platform settings)', () => {
    const assigned = appSettingsAssignedByBicep();
    const expected = new Set([...allSettingNames.filter((n) => !notInAzure.includes(n)), ...platformSettings]);
    assert.deepEqual([...assigned].sort(), [...expected].sort());
  });

  it('local.settings.json.example and the code read the same settings', () => {
    const example = (JSON.parse(readFileSync(join(root, 'local.settings.json.example'), 'utf8')) as { Values: Record<string, string> }).Values;
    const keys = Object.keys(example).filter((k) => k !== 'FUNCTIONS_WORKER_RUNTIME');
    assert.deepEqual(keys.sort(), [...allSettingNames].sort());
  });

  it('uses only known built-in roles, each named in a comment where it is assigned', () => {
    const all = files.map((f) => readFileSync(f, 'utf8')).join('\n');
    const guids = [...all.matchAll(/'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'/g)].map((m) => m[1] ?? '');
    const graphIds = ['00000003-0000-0000-c000-000000000000', 'df021288-bdef-4463-88db-98f22de89214'];
    const roleIds = guids.filter((g) => !graphIds.includes(g));
    assert.ok(roleIds.length >= 4);
    for (const id of roleIds) assert.ok(id in builtInRoles, `unknown role definition id ${id}`);

    const rbac = readFileSync(join(infra, 'modules', 'rbac.bicep'), 'utf8');
    const assignments = [...rbac.matchAll(/((?:\/\/[^\n]*\n)+)resource (\w+) 'Microsoft\.Authorization\/roleAssignments@[^\n]*\n([\s\S]*?)\n}/g)];
    assert.equal(assignments.length, (rbac.match(/'Microsoft\.Authorization\/roleAssignments@/g) ?? []).length, 'every role assignment has a comment above it');
    assert.ok(assignments.length >= 4);
    const varNames: Record<string, string> = Object.fromEntries([...rbac.matchAll(/^\s+(\w+): '([0-9a-f-]{36})'$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']));
    for (const [, comment = '', resource = '', body = ''] of assignments) {
      const roleVar = /roles\.(\w+)\)/.exec(body)?.[1] ?? '';
      const name = builtInRoles[varNames[roleVar] ?? ''];
      assert.ok(name !== undefined, `${resource} uses unknown role variable ${roleVar}`);
      assert.ok(comment.includes(name), `the comment above ${resource} should name "${name}"`);
      assert.match(body, /name: guid\(/, `${resource}: deterministic guid() name`);
    }
  });

  it('gives the app the narrowest queue role, on the users queue only', () => {
    const rbac = readFileSync(join(infra, 'modules', 'rbac.bicep'), 'utf8');
    const queueAssignment = /resource appQueueSender[\s\S]*?\n}/.exec(rbac)?.[0] ?? '';
    assert.match(queueAssignment, /roles\.storageQueueDataMessageSender/);
    assert.match(queueAssignment, /scope: storage::queueServices::usersQueue\n/);
    assert.doesNotMatch(rbac.replace(/resource developer[\s\S]*?\n}/g, ''), /roles\.storageQueueDataContributor\)/, 'the app itself gets no queue contributor role');
  });

  it('has no keys, no key-based connection strings and no secrets in outputs', () => {
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      const where = relative(root, file);
      assert.doesNotMatch(text, /listKeys\(/, `${where}: listKeys(`);
      assert.doesNotMatch(text, /AccountKey=/, `${where}: a connection string with a key`);
      assert.doesNotMatch(text, /AzureWebJobsStorage:/, `${where}: AzureWebJobsStorage as a connection string`);
      for (const output of descendants(parseBicep(file).rootNode, 'output_declaration')) {
        assert.doesNotMatch(output.text, /secret(?!Name)|password|key\b/i, `${where}: an output mentions a secret: ${output.text}`);
      }
      for (const [, decorators = '', name = ''] of text.matchAll(/((?:@[^\n]*\n)*)param (\w+) /g)) {
        if (/secret|password/i.test(name) && !/Name$/.test(name)) assert.match(decorators, /@secure\(\)/, `${where}: param ${name} must be @secure()`);
      }
    }
    const storage = readFileSync(join(infra, 'modules', 'storage.bicep'), 'utf8');
    assert.match(storage, /allowSharedKeyAccess: false/);
    assert.match(storage, /minimumTlsVersion: 'TLS1_2'/);
    assert.match(storage, /supportsHttpsTrafficOnly: true/);
    assert.match(storage, /allowBlobPublicAccess: false/);
    const vault = readFileSync(join(infra, 'modules', 'keyvault.bicep'), 'utf8');
    assert.match(vault, /enableRbacAuthorization: true/);
    assert.match(vault, /enablePurgeProtection: true/);
    assert.match(vault, /enableSoftDelete: true/);
    assert.match(readFileSync(join(infra, 'modules', 'monitoring.bicep'), 'utf8'), /DisableLocalAuth: true/);
  });
});
