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
const platformSettings = ['APPLICATIONINSIGHTS_CONNECTION_STRING', 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'];
// Settings the code reads that the template deliberately does not set, each with its reason.
const notInAzure: Record<string, string> = {
  AzureWebJobsStorage: 'a connection string carries a key, and the account has shared keys disabled',
  AzureWebJobsStorage__accountName: 'an alternative to the __queueServiceUri / __blobServiceUri set here',
  SYNC_ALLOWED_HOSTS: 'an escape hatch, empty by default: an operator sets it by hand when needed, never the template',
  SYNC_ALLOW_REMOVALS: 'set by hand to let one held run through the mass-deletion guard; a template must never open it',
};

// Every built-in role this project may assign, by id and name.
const builtInRoles: Record<string, string> = {
  '4633458b-17de-408a-b874-0445c86b69e6': 'Key Vault Secrets User',
  'b86a8fe4-44ce-4948-aee5-eccb2c155cd7': 'Key Vault Secrets Officer',
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': 'Storage Blob Data Owner',
  'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a': 'Storage Queue Data Message Sender',
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88': 'Storage Queue Data Contributor',
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe': 'Storage Blob Data Contributor',
  '3913510d-42f4-4e42-8a64-420c390055eb': 'Monitoring Metrics Publisher',
};

const containerType = 'Microsoft.Storage/storageAccounts/blobServices/containers';

/** The object literal of a resource or module declaration (also behind `= if (...)`). */
function declarationBody(declaration: Parser.SyntaxNode | undefined): Parser.SyntaxNode | undefined {
  const direct = declaration?.namedChildren.find((c) => c.type === 'object');
  return direct ?? declaration?.namedChildren.find((c) => c.type === 'if_statement')?.namedChildren.find((c) => c.type === 'object');
}

function property(object: Parser.SyntaxNode | undefined, key: string): Parser.SyntaxNode | undefined {
  const found = object?.namedChildren.find((c) => c.type === 'object_property' && c.namedChildren[0]?.text === key);
  return found?.namedChildren[1];
}

/**
 * Every resource a file declares, by the symbolic name other expressions use for it (`a`, or
 * `a::b::c` for a nested one), with its full resource type (a nested `'containers'` under
 * `storageAccounts` / `blobServices` is `Microsoft.Storage/storageAccounts/blobServices/containers`).
 */
function declaredResources(tree: Parser.SyntaxNode): Map<string, string> {
  const found = new Map<string, string>();
  const visit = (node: Parser.SyntaxNode, parentPath: string | undefined, parentType: string | undefined): void => {
    for (const child of node.namedChildren) {
      if (child.type === 'resource_declaration') {
        const name = child.namedChildren[0]?.text ?? '';
        const declared = (child.namedChildren[1]?.text ?? '').replace(/^'|'$/g, '').replace(/@.*$/, '');
        const type = parentType === undefined || declared.includes('/') ? declared : `${parentType}/${declared}`;
        const path = parentPath === undefined ? name : `${parentPath}::${name}`;
        found.set(path, type);
        const body = declarationBody(child);
        if (body) visit(body, path, type);
      } else if (child.type === 'object_property' || child.type === 'object') {
        visit(child, parentPath, parentType);
      }
    }
  };
  visit(tree, undefined, undefined);
  return found;
}

interface RoleAssignment {
  readonly file: string;
  readonly resource: string;
  /** The scope expression as written, e.g. `storage::blobServices::syncStateContainer`. */
  readonly scope: string;
  /** Resource type of the scope, resolved through the file's declarations. */
  readonly scopeType: string;
  readonly principal: string;
  readonly roleId: string;
}

/** Every role assignment in infra/, resolved structurally (scope type, role id via the file's `var roles`). */
function roleAssignments(): RoleAssignment[] {
  return bicepFiles(infra).flatMap((file) => {
    const tree = parseBicep(file).rootNode;
    const resources = declaredResources(tree);
    const rolesVar = descendants(tree, 'variable_declaration').find((v) => v.namedChildren[0]?.text === 'roles');
    const roleIds = new Map(
      (rolesVar?.namedChildren.find((c) => c.type === 'object')?.namedChildren ?? [])
        .filter((c) => c.type === 'object_property')
        .map((p) => [p.namedChildren[0]?.text ?? '', (p.namedChildren[1]?.text ?? '').replace(/^'|'$/g, '')]),
    );
    return descendants(tree, 'resource_declaration')
      .filter((r) => /^'Microsoft\.Authorization\/roleAssignments@/.test(r.namedChildren[1]?.text ?? ''))
      .map((r) => {
        const resource = r.namedChildren[0]?.text ?? '';
        const body = declarationBody(r);
        const scope = property(body, 'scope')?.text ?? '';
        const properties = property(body, 'properties');
        const roleRef = property(properties, 'roleDefinitionId')?.text ?? '';
        const roleVar = /roles\.(\w+)\)$/.exec(roleRef)?.[1];
        return {
          file: relative(root, file),
          resource,
          scope,
          scopeType: resources.get(scope) ?? `(not a resource of ${relative(infra, file)}: ${scope || 'no scope'})`,
          principal: property(properties, 'principalId')?.text ?? '',
          roleId: roleVar === undefined ? `(roleDefinitionId not from var roles: ${roleRef})` : (roleIds.get(roleVar) ?? `(roles.${roleVar} undefined)`),
        };
      });
  });
}

// The one blob data role assigned on the whole account: the Functions host's own storage
// (AzureWebJobsStorage: timer leases and schedule status in containers the host creates itself)
// and the Flex Consumption deployment package. Every other blob data role is scoped to a container.
const accountScopedHostStorage = { resource: 'appBlobOwner', role: 'Storage Blob Data Owner' };

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
    // The lists of exceptions stay honest: what is left out is read by the code, what is added is not.
    for (const name of Object.keys(notInAzure)) assert.ok(allSettingNames.includes(name), `${name} is listed as deliberately not set in Azure, but shared/settings.ts does not read it`);
    for (const name of platformSettings) assert.ok(!allSettingNames.includes(name), `${name} is read by shared/settings.ts: it is not a platform-only setting`);
    const assigned = appSettingsAssignedByBicep();
    const expected = new Set([...allSettingNames.filter((n) => !(n in notInAzure)), ...platformSettings]);
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

  it('scopes every blob data role to one container, except the named host-storage role on the account', () => {
    const assignments = roleAssignments();
    assert.ok(assignments.length >= 6);
    for (const a of assignments) assert.ok(a.roleId in builtInRoles, `${a.file} ${a.resource}: unknown role definition id ${a.roleId}`);
    const blobData = assignments.filter((a) => builtInRoles[a.roleId]?.startsWith('Storage Blob Data'));
    const onAccount = blobData.filter((a) => a.scopeType !== containerType);
    assert.deepEqual(
      onAccount.map((a) => `${a.resource}: ${builtInRoles[a.roleId] ?? ''} on ${a.scopeType}`),
      [`${accountScopedHostStorage.resource}: ${accountScopedHostStorage.role} on Microsoft.Storage/storageAccounts`],
      'blob data roles not scoped to a container',
    );
    assert.ok(blobData.length > onAccount.length, 'some blob data role is scoped to a container');
  });

  it('gives the app Storage Blob Data Contributor on the sync-state and users-overflow containers, no broader blob role there', () => {
    const onContainers = roleAssignments().filter((a) => a.scopeType === containerType);
    const app = onContainers.filter((a) => a.principal === 'appPrincipalId');
    assert.deepEqual(
      app.map((a) => `${a.scope}: ${builtInRoles[a.roleId] ?? a.roleId}`).sort(),
      ['storage::blobServices::syncStateContainer: Storage Blob Data Contributor', 'storage::blobServices::usersOverflowContainer: Storage Blob Data Contributor'],
    );
    for (const a of onContainers) assert.notEqual(builtInRoles[a.roleId], 'Storage Blob Data Owner', `${a.resource}: Owner on a container; Contributor writes and leases`);

    // The containers the roles are scoped to are the ones storage.bicep creates, private, from the same parameters.
    const storage = readFileSync(join(infra, 'modules', 'storage.bicep'), 'utf8');
    const containers = [...storage.matchAll(/resource (\w+) 'containers' = \{\n\s+name: (\w+)\n\s+properties: \{ publicAccess: 'None' \}/g)].map((m) => m[2]);
    assert.deepEqual(containers.filter((c) => c !== 'deploymentContainerName').sort(), ['syncStateContainerName', 'usersOverflowContainerName']);
    assert.equal((storage.match(/'containers' = /g) ?? []).length, containers.length, 'every container in storage.bicep has publicAccess None');
    const rbac = readFileSync(join(infra, 'modules', 'rbac.bicep'), 'utf8');
    assert.match(rbac, /resource syncStateContainer 'containers' existing = \{\n\s+name: syncStateContainerName\n/);
    assert.match(rbac, /resource usersOverflowContainer 'containers' existing = \{\n\s+name: usersOverflowContainerName\n/);
    const main = parseBicep(join(infra, 'main.bicep')).rootNode;
    const moduleParams = (name: string): Parser.SyntaxNode | undefined =>
      property(declarationBody(descendants(main, 'module_declaration').find((m) => m.namedChildren[0]?.text === name)), 'params');
    for (const param of ['syncStateContainerName', 'usersOverflowContainerName']) {
      const given = property(moduleParams('storage'), param)?.text;
      assert.ok(given !== undefined, `main.bicep passes ${param} to storage.bicep`);
      assert.equal(property(moduleParams('rbac'), param)?.text, given, `main.bicep passes the same ${param} to storage.bicep and rbac.bicep`);
    }
    const defaults = Object.fromEntries(descendants(main, 'parameter_declaration').map((p) => [p.namedChildren[0]?.text ?? '', p.namedChildren.at(-1)?.text ?? '']));
    assert.equal(defaults.syncStateContainerName, "'sync-state'");
    assert.equal(defaults.usersOverflowContainerName, "'users-overflow'");
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
