import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import type Parser from 'tree-sitter';
import { type Values, bicepFiles, evaluate, infra, parseBicep, parseBicepText, root, variables } from '../helpers/bicep';
import { SettingDefaults, allSettingNames } from '../../shared/internal';

// infra/ without Azure: syntax (tree-sitter-bicep), settings drift against shared/settings/settings.ts and
// local.settings.json.example, and least-privilege rules.

/** The `parameters` of infra/<template>.parameters.json. */
function parametersFile(template: string): Record<string, { value: unknown }> {
  return (JSON.parse(readFileSync(join(infra, `${template}.parameters.json`), 'utf8')) as { parameters: Record<string, { value: unknown }> }).parameters;
}

function descendants(node: Parser.SyntaxNode, type: string): Parser.SyntaxNode[] {
  return node.descendantsOfType(type);
}

/** Keys of an object literal (its direct properties). */
function objectKeys(object: Parser.SyntaxNode): string[] {
  return object.namedChildren.filter((c) => c.type === 'object_property').map((p) => p.namedChildren[0]?.text.replace(/^'|'$/g, '') ?? '');
}

/**
 * The app settings an expression built of object literals, union() and ternaries assigns, each
 * with its value expression. With `values`, as deployed with those parameters (every ternary
 * condition must then be decidable); without, every branch counts (a conditional key is set).
 */
function settingsOf(node: Parser.SyntaxNode | undefined | null, vars: ReadonlyMap<string, Parser.SyntaxNode>, values?: Values): Map<string, Parser.SyntaxNode> {
  const found = new Map<string, Parser.SyntaxNode>();
  const visit = (n: Parser.SyntaxNode | undefined | null): void => {
    assert.ok(n, 'a settings expression is missing a part');
    if (n.type === 'object') {
      for (const p of n.namedChildren.filter((c) => c.type === 'object_property')) {
        const value = p.namedChildren[1];
        if (value) found.set(p.namedChildren[0]?.text.replace(/^'|'$/g, '') ?? '', value);
      }
    } else if (n.type === 'call_expression' && n.childForFieldName('function')?.text === 'union') {
      for (const arg of n.childForFieldName('arguments')?.namedChildren ?? []) visit(arg);
    } else if (n.type === 'ternary_expression') {
      if (values === undefined) {
        visit(n.childForFieldName('consequence'));
        visit(n.childForFieldName('alternative'));
      } else {
        const condition = evaluate(n.childForFieldName('condition'), values, vars);
        assert.equal(typeof condition, 'boolean', `cannot decide ${n.childForFieldName('condition')?.text ?? ''} with ${JSON.stringify(values)}`);
        visit(n.childForFieldName(condition === true ? 'consequence' : 'alternative'));
      }
    } else if (n.type === 'parenthesized_expression') {
      visit(n.namedChildren[0]);
    } else if (n.type === 'identifier' && vars.has(n.text)) {
      visit(vars.get(n.text));
    } else {
      assert.fail(`settings are object literals, union() and ternaries; not ${n.text.slice(0, 60)}`);
    }
  };
  visit(node);
  return found;
}

function syncSettingsExpression(): { readonly node: Parser.SyntaxNode; readonly vars: Map<string, Parser.SyntaxNode> } {
  const vars = variables(parseBicep(join(infra, 'main.bicep')).rootNode);
  const node = vars.get('syncSettings');
  assert.ok(node, 'main.bicep declares var syncSettings');
  return { node, vars };
}

function appSettingsAssignedByBicep(): Set<string> {
  const { node: syncSettings, vars } = syncSettingsExpression();

  const app = parseBicep(join(infra, 'modules', 'functionapp.bicep')).rootNode;
  const config = descendants(app, 'resource_declaration').find((r) => /'config'/.test(r.namedChildren[1]?.text ?? '') && /name: 'appsettings'/.test(r.text));
  assert.ok(config, "functionapp.bicep declares the 'appsettings' config resource");
  const union = descendants(config, 'call_expression').find((c) => c.childForFieldName('function')?.text === 'union');
  const args = union?.childForFieldName('arguments')?.namedChildren ?? [];
  assert.equal(args[0]?.text, 'syncSettings', 'app settings are union(syncSettings, { ...platform settings })');
  const platform = args[1];
  assert.ok(platform?.type === 'object');
  return new Set([...settingsOf(syncSettings, vars).keys(), ...objectKeys(platform)]);
}

// Settings the Functions platform or host reads, not shared/settings/settings.ts.
const platformSettings = ['APPLICATIONINSIGHTS_CONNECTION_STRING', 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', 'AzureWebJobsStorage__tableServiceUri'];
// Settings the code reads that the template deliberately does not set, each with its reason.
const notInAzure: Record<string, string> = {
  AzureWebJobsStorage: 'a connection string carries a key, and the account has shared keys disabled',
  AzureWebJobsStorage__accountName: 'an alternative to the __queueServiceUri / __blobServiceUri set here',
  SYNC_ALLOWED_HOSTS: 'an escape hatch, empty by default: an operator sets it by hand when needed, never the template',
  SYNC_ALLOW_REMOVALS: 'set by hand to let one held run through the mass-deletion guard; a template must never open it',
  GRAPH_FEDERATED_AUDIENCE: 'derived from AUTHORITY_HOST (the cloud); an override for unusual clouds, set by hand',
};

// Every built-in role this project may assign, by id and name.
const builtInRoles: Record<string, string> = {
  '4633458b-17de-408a-b874-0445c86b69e6': 'Key Vault Secrets User',
  'b86a8fe4-44ce-4948-aee5-eccb2c155cd7': 'Key Vault Secrets Officer',
  'db79e9a7-68ee-4b58-9aeb-b90e7c24fcba': 'Key Vault Certificate User',
  'a4417e6f-fecd-4de8-b567-7b0420556985': 'Key Vault Certificates Officer',
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': 'Storage Blob Data Owner',
  'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a': 'Storage Queue Data Message Sender',
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88': 'Storage Queue Data Contributor',
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe': 'Storage Blob Data Contributor',
  '3913510d-42f4-4e42-8a64-420c390055eb': 'Monitoring Metrics Publisher',
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3': 'Storage Table Data Contributor',
};

const containerType = 'Microsoft.Storage/storageAccounts/blobServices/containers';

/** The object literal of a resource or module declaration (also behind `= if (...)`). */
function declarationBody(declaration: Parser.SyntaxNode | undefined): Parser.SyntaxNode | undefined {
  const direct = declaration?.namedChildren.find((c) => c.type === 'object');
  return direct ?? declaration?.namedChildren.find((c) => c.type === 'if_statement')?.namedChildren.find((c) => c.type === 'object');
}

/** The condition of a resource or module declared `= if (condition) { ... }`; undefined when unconditional. */
function declarationCondition(declaration: Parser.SyntaxNode | undefined): Parser.SyntaxNode | undefined {
  return declaration?.namedChildren.find((c) => c.type === 'if_statement')?.namedChildren.find((c) => c.type === 'parenthesized_expression');
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
  /** Whether it is deployed with these parameter values (undefined: the condition cannot be decided). */
  readonly deployedWith: (values: Values) => boolean | undefined;
}

/** Every role assignment in infra/, resolved structurally (scope type, role id via the file's `var roles`). */
function roleAssignments(): RoleAssignment[] {
  return bicepFiles(infra).flatMap((file) => {
    const tree = parseBicep(file).rootNode;
    const resources = declaredResources(tree);
    const vars = variables(tree);
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
        const condition = declarationCondition(r);
        return {
          file: relative(root, file),
          resource,
          scope,
          scopeType: resources.get(scope) ?? `(not a resource of ${relative(infra, file)}: ${scope || 'no scope'})`,
          principal: property(properties, 'principalId')?.text ?? '',
          roleId: roleVar === undefined ? `(roleDefinitionId not from var roles: ${roleRef})` : (roleIds.get(roleVar) ?? `(roles.${roleVar} undefined)`),
          deployedWith: (values: Values) => {
            if (condition === undefined) return true;
            const deployed = evaluate(condition, values, vars);
            return typeof deployed === 'boolean' ? deployed : undefined;
          },
        };
      });
  });
}

/**
 * Flex Consumption: site properties and app settings that are deprecated, moved or rejected.
 * Source: learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations
 * (MicrosoftDocs/azure-docs articles/azure-functions/functions-app-settings.md, "Flex Consumption
 * plan deprecations"); plus the site configuration properties ARM rejects on a Flex site with
 * "The following list of 4 site configuration properties (Site.SiteConfig.FtpsState,
 * Site.SiteConfig.Use32BitWorkerProcess, Site.SiteConfig.NetFrameworkVersion,
 * Site.SiteConfig.FunctionsRuntimeScaleMonitoringEnabled) for Flex Consumption sites is invalid"
 * (github.com/microsoft/azure-pipelines-tasks/issues/21032).
 */
const flexDeprecatedAppSettings = [
  'ENABLE_ORYX_BUILD',
  'FUNCTIONS_EXTENSION_VERSION',
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_WORKER_RUNTIME_VERSION',
  'FUNCTIONS_MAX_HTTP_CONCURRENCY',
  'FUNCTIONS_WORKER_PROCESS_COUNT',
  'FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED',
  'SCM_DO_BUILD_DURING_DEPLOYMENT',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'WEBSITE_CONTENTOVERVNET',
  'WEBSITE_CONTENTSHARE',
  'WEBSITE_DNS_SERVER',
  'WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT',
  'WEBSITE_NODE_DEFAULT_VERSION',
  'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_SKIP_CONTENTSHARE_VALIDATION',
  'WEBSITE_VNET_ROUTE_ALL',
];
const flexDeprecatedSiteProperties = [
  'alwaysOn',
  'containerSize',
  'ftpsState',
  'isReserved',
  'IsXenon',
  'javaVersion',
  'LinuxFxVersion',
  'netFrameworkVersion',
  'powerShellVersion',
  'functionAppScaleLimit',
  'preWarmedInstanceCount',
  'use32BitWorkerProcess',
  'vnetBackupRestoreEnabled',
  'vnetContentShareEnabled',
  'vnetImagePullEnabled',
  'vnetRouteAllEnabled',
  'windowsFxVersion',
  // The ARM error's list, beyond the documented one.
  'functionsRuntimeScaleMonitoringEnabled',
];

/** Every property key written anywhere inside a declaration (nested objects and child resources included). */
function keysWithin(node: Parser.SyntaxNode): string[] {
  return descendants(node, 'object_property').map((p) => p.namedChildren[0]?.text.replace(/^'|'$/g, '') ?? '');
}

/** The Flex deprecation entries a set of site property keys and app setting names uses (case-insensitive, as ARM compares). */
function flexDeprecationsUsed(siteKeys: readonly string[], appSettings: readonly string[]): string[] {
  const keys = new Set(siteKeys.map((k) => k.toLowerCase()));
  const settings = new Set(appSettings.map((k) => k.toLowerCase()));
  return [
    ...flexDeprecatedSiteProperties.filter((p) => keys.has(p.toLowerCase())).map((p) => `site property ${p}`),
    ...flexDeprecatedAppSettings.filter((n) => settings.has(n.toLowerCase()) || keys.has(n.toLowerCase())).map((n) => `app setting ${n}`),
  ];
}

// The one blob data role assigned on the whole account: the Functions host's own storage
// (AzureWebJobsStorage: timer leases and schedule status in containers the host creates itself)
// and the Flex Consumption deployment package. Every other blob data role is scoped to a container.
const accountScopedHostStorage = { resource: 'appBlobOwner', role: 'Storage Blob Data Owner' };

describe('infra/', () => {
  const files = bicepFiles(infra);

  it('has main.bicep, main-graph.bicep, their modules, parameters, README and azure.yaml', () => {
    for (const f of ['main.bicep', 'main.parameters.json', 'main-graph.bicep', 'main-graph.parameters.json', 'README.md', 'bicepconfig.json'])
      assert.ok(existsSync(join(infra, f)), f);
    assert.ok(files.length >= 7);
    const azureYaml = readFileSync(join(root, 'azure.yaml'), 'utf8');
    assert.match(azureYaml, /language: ts/);
    assert.match(azureYaml, /host: function/);
    assert.match(readFileSync(join(root, 'README.md'), 'utf8'), /\(infra\/README\.md\)/);
  });

  // Parsing, types, properties, API versions and module parameters are the Bicep compiler's now
  // (test/infra/bicep-build.test.ts); what follows is what it cannot say.

  it('each parameters file only names parameters its template declares', () => {
    for (const template of ['main', 'main-graph']) {
      const declared = new Set(
        descendants(parseBicep(join(infra, `${template}.bicep`)).rootNode, 'parameter_declaration').map((p) => p.namedChildren[0]?.text),
      );
      const given = Object.keys(parametersFile(template));
      for (const name of given) assert.ok(declared.has(name), `${name} is not a parameter of ${template}.bicep`);
    }
  });

  it('assigns exactly the app settings the code reads (plus named platform settings)', () => {
    // The lists of exceptions stay honest: what is left out is read by the code, what is added is not.
    for (const name of Object.keys(notInAzure))
      assert.ok(allSettingNames.includes(name), `${name} is listed as deliberately not set in Azure, but shared/settings/settings.ts does not read it`);
    for (const name of platformSettings)
      assert.ok(!allSettingNames.includes(name), `${name} is read by shared/settings/settings.ts: it is not a platform-only setting`);
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
    // Microsoft Graph's app id and its app roles User.Read.All, GroupMember.Read.All and AuditLog.Read.All (main-graph.bicep).
    const graphIds = [
      '00000003-0000-0000-c000-000000000000',
      'df021288-bdef-4463-88db-98f22de89214',
      '98830695-27a2-44f7-8c18-0c3ebc9698f6',
      'b0afded3-3588-46d8-8b3d-9842eff778da',
    ];
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
    assert.doesNotMatch(
      rbac.replace(/resource developer[\s\S]*?\n}/g, ''),
      /roles\.storageQueueDataContributor\)/,
      'the app itself gets no queue contributor role',
    );
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
    assert.deepEqual(app.map((a) => `${a.scope}: ${builtInRoles[a.roleId] ?? a.roleId}`).sort(), [
      'storage::blobServices::syncStateContainer: Storage Blob Data Contributor',
      'storage::blobServices::usersOverflowContainer: Storage Blob Data Contributor',
    ]);
    for (const a of onContainers)
      assert.notEqual(builtInRoles[a.roleId], 'Storage Blob Data Owner', `${a.resource}: Owner on a container; Contributor writes and leases`);

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
    const defaults = Object.fromEntries(
      descendants(main, 'parameter_declaration').map((p) => [p.namedChildren[0]?.text ?? '', p.namedChildren.at(-1)?.text ?? '']),
    );
    assert.equal(defaults.syncStateContainerName, "'sync-state'");
    assert.equal(defaults.usersOverflowContainerName, "'users-overflow'");
  });

  it('sets nothing on the Flex Consumption deprecation list on the site, its config or its app settings', () => {
    const app = parseBicep(join(infra, 'modules', 'functionapp.bicep')).rootNode;
    const sites = descendants(app, 'resource_declaration').filter((r) => /^'Microsoft\.Web\/sites@/.test(r.namedChildren[1]?.text ?? ''));
    assert.equal(sites.length, 1, 'functionapp.bicep declares one Microsoft.Web/sites');
    const site = sites[0];
    assert.ok(site);
    assert.deepEqual(flexDeprecationsUsed(keysWithin(site), [...appSettingsAssignedByBicep()]), []);
    // The runtime lives in functionAppConfig.runtime, not in FUNCTIONS_WORKER_RUNTIME; TLS stays enforced.
    assert.match(site.text, /runtime: \{ name: 'node', version: nodeVersion \}/);
    assert.match(site.text, /siteConfig: \{ minTlsVersion: '1\.2' \}/);
    // The check sees what the issue found: ftpsState in siteConfig, and a worker-runtime setting.
    const broken = parseBicepText(
      "resource s 'Microsoft.Web/sites@2024-04-01' = {\n  name: 'x'\n  properties: {\n    siteConfig: { minTlsVersion: '1.2', ftpsState: 'Disabled' }\n  }\n}\n",
    ).rootNode;
    assert.deepEqual(flexDeprecationsUsed(keysWithin(broken), ['FUNCTIONS_WORKER_RUNTIME']), [
      'site property ftpsState',
      'app setting FUNCTIONS_WORKER_RUNTIME',
    ]);
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

  describe('Graph credential modes (GRAPH_CREDENTIAL)', () => {
    const main = parseBicep(join(infra, 'main.bicep')).rootNode;
    const mainVars = variables(main);
    const params = new Map(descendants(main, 'parameter_declaration').map((p) => [p.namedChildren[0]?.text ?? '', p]));
    const modules = new Map(descendants(main, 'module_declaration').map((m) => [m.namedChildren[0]?.text ?? '', m]));
    const moduleParams = (name: string): Parser.SyntaxNode | undefined => property(declarationBody(modules.get(name)), 'params');
    const modes = ['secret', 'certificate', 'managed-identity'] as const;
    /** Every combination of the parameters that shape main.bicep's structure. */
    const mainScopes: Values[] = modes.map((graphCredential) => ({ graphCredential }));
    const credentialSettings = ['KEY_VAULT_URL', 'GRAPH_CLIENT_SECRET_NAME', 'GRAPH_CERTIFICATE_NAME'];
    const vaultType = 'Microsoft.KeyVault/vaults';

    it("graphCredential allows exactly the three modes and defaults to the code's default", () => {
      const param = params.get('graphCredential');
      assert.ok(param, 'main.bicep declares param graphCredential');
      const decorators = param.previousNamedSibling?.type === 'decorators' ? param.previousNamedSibling : undefined;
      const allowed = decorators?.namedChildren
        .map((d) => d.namedChildren[0])
        .find((call) => call?.childForFieldName('function')?.text === 'allowed')
        ?.childForFieldName('arguments')?.namedChildren[0];
      assert.deepEqual(
        allowed?.namedChildren.map((v) => evaluate(v, {}, mainVars)),
        [...modes],
      );
      assert.ok(decorators?.text.includes('@description('), 'graphCredential has a description');
      assert.equal(evaluate(param.namedChildren.at(-1), {}, mainVars), SettingDefaults.graphCredential);
      assert.equal(evaluate(params.get('graphCertificateName')?.namedChildren.at(-1), {}, mainVars), 'graph-sync-cert');
      assert.equal(evaluate(params.get('graphClientSecretName')?.namedChildren.at(-1), {}, mainVars), SettingDefaults.clientSecretName);
    });

    it("sets each mode's credential settings only in that mode, and the others alike in every mode", () => {
      const { node, vars } = syncSettingsExpression();
      const expected: Record<string, string[]> = {
        secret: ['KEY_VAULT_URL', 'GRAPH_CLIENT_SECRET_NAME'],
        certificate: ['KEY_VAULT_URL', 'GRAPH_CERTIFICATE_NAME'],
        'managed-identity': [],
      };
      const common = new Set<string>();
      for (const values of mainScopes) {
        const settings = settingsOf(node, vars, values);
        const mode = String(values.graphCredential);
        assert.deepEqual(
          credentialSettings.filter((n) => settings.has(n)),
          expected[mode],
          `credential settings with ${JSON.stringify(values)}`,
        );
        assert.equal(settings.get('GRAPH_CREDENTIAL')?.text, 'graphCredential');
        assert.equal(settings.get('AZURE_CLIENT_ID')?.text, 'identity.properties.clientId', 'the identity the app (and managed-identity mode) uses');
        assert.ok(!settings.has('GRAPH_FEDERATED_AUDIENCE'), 'the audience is derived from the cloud, not set');
        const others = [...settings.keys()].filter((n) => !credentialSettings.includes(n)).sort();
        if (common.size === 0) for (const n of others) common.add(n);
        assert.deepEqual(others, [...common].sort(), `the same other settings with ${JSON.stringify(values)}`);
      }
      const all = settingsOf(node, vars);
      assert.equal(all.get('GRAPH_CLIENT_SECRET_NAME')?.text, 'graphClientSecretName');
      assert.equal(all.get('GRAPH_CERTIFICATE_NAME')?.text, 'graphCertificateName');
      assert.match(all.get('KEY_VAULT_URL')?.text ?? '', /^keyVault!?\.outputs\.uri$/);
    });

    it('deploys Key Vault only for the secret and certificate modes, and reads conditional modules only where they are deployed', () => {
      const keyVaultCondition = declarationCondition(modules.get('keyVault'));
      assert.ok(keyVaultCondition, 'module keyVault is conditional');
      for (const mode of modes)
        assert.equal(evaluate(keyVaultCondition, { graphCredential: mode }, mainVars), mode !== 'managed-identity', `Key Vault with ${mode}`);

      // Every `<module>!.outputs` of a conditional module sits behind ternaries that, whenever they
      // select it, imply the module's condition (the `!` silences the compiler's BCP318 there).
      const conditional = [...modules].flatMap(([name, m]) => {
        const condition = declarationCondition(m);
        return condition === undefined ? [] : [[name, condition] as const];
      });
      assert.deepEqual(conditional.map(([name]) => name).sort(), ['keyVault']);
      for (const [name, condition] of conditional) {
        const reads = descendants(main, 'member_expression').filter(
          (e) => e.namedChildren[0]?.type === 'identifier' && e.namedChildren[0].text === name && e.namedChildren[1]?.text === 'outputs',
        );
        assert.ok(reads.length > 0, `main.bicep reads ${name}'s outputs`);
        for (const read of reads) {
          const guards: { condition: Parser.SyntaxNode; when: boolean }[] = [];
          for (let child = read, parent = read.parent; parent; child = parent, parent = parent.parent) {
            if (parent.type !== 'ternary_expression') continue;
            const ternaryCondition = parent.childForFieldName('condition');
            const consequence = parent.childForFieldName('consequence');
            if (!ternaryCondition || ternaryCondition.startIndex === child.startIndex) continue;
            guards.push({ condition: ternaryCondition, when: consequence?.startIndex === child.startIndex && consequence.endIndex === child.endIndex });
          }
          for (const values of mainScopes) {
            const selected = guards.every((g) => evaluate(g.condition, values, mainVars) === g.when);
            if (selected)
              assert.equal(
                evaluate(condition, values, mainVars),
                true,
                `line ${read.startPosition.row + 1}: ${read.text} is read with ${JSON.stringify(values)}, where ${name} is not deployed`,
              );
          }
        }
      }

      // The vault's role assignments need it: rbac names the same vault and waits for the module.
      assert.equal(property(moduleParams('keyVault'), 'keyVaultName')?.text, 'keyVaultName');
      assert.equal(property(moduleParams('rbac'), 'keyVaultName')?.text, 'keyVaultName');
      assert.deepEqual(
        property(declarationBody(modules.get('rbac')), 'dependsOn')?.namedChildren.map((c) => c.text),
        ['keyVault', 'storage', 'monitoring'],
      );
      assert.equal(property(moduleParams('rbac'), 'graphCredential')?.text, 'graphCredential');
      assert.match(
        property(moduleParams('keyVault'), 'secretValue')?.text ?? '',
        /^graphCredential == 'secret' \? graphClientSecret : ''$/,
        'a client secret is stored only in secret mode',
      );
    });

    it('gives the app and the developer Key Vault roles per mode, and the same other roles in every mode', () => {
      const assignments = roleAssignments();
      const expected: Record<string, { app: string[]; developer: string[] }> = {
        secret: { app: ['Key Vault Secrets User'], developer: ['Key Vault Secrets Officer'] },
        certificate: {
          app: ['Key Vault Certificate User', 'Key Vault Secrets User'],
          developer: ['Key Vault Certificates Officer', 'Key Vault Secrets Officer'],
        },
        'managed-identity': { app: [], developer: [] },
      };
      let others: string[] | undefined;
      for (const mode of modes) {
        for (const developerPrincipalId of ['', '00000000-0000-0000-0000-000000000001']) {
          const values = { graphCredential: mode, developerPrincipalId };
          for (const a of assignments)
            assert.equal(typeof a.deployedWith(values), 'boolean', `${a.file} ${a.resource}: condition undecidable with ${JSON.stringify(values)}`);
          const deployed = assignments.filter((a) => a.deployedWith(values) === true);
          const onVault = (principal: string): string[] =>
            deployed
              .filter((a) => a.scopeType === vaultType && a.principal === principal)
              .map((a) => builtInRoles[a.roleId] ?? a.roleId)
              .sort();
          assert.deepEqual(onVault('appPrincipalId'), expected[mode]?.app, `app roles on the vault with ${mode}`);
          assert.deepEqual(
            onVault('developerPrincipalId'),
            developerPrincipalId === '' ? [] : expected[mode]?.developer,
            `developer roles on the vault with ${mode}`,
          );
          assert.deepEqual(
            deployed.filter((a) => a.scopeType === vaultType).map((a) => a.scope),
            deployed.filter((a) => a.scopeType === vaultType).map(() => 'vault'),
          );
          if (developerPrincipalId !== '') {
            const rest = deployed
              .filter((a) => a.scopeType !== vaultType)
              .map((a) => `${a.resource}: ${builtInRoles[a.roleId] ?? a.roleId} on ${a.scope}`)
              .sort();
            others ??= rest;
            assert.deepEqual(rest, others, `roles outside the vault with ${mode}`);
          }
        }
      }
    });

    it('main-graph.bicep trusts the identity with a federated credential in managed-identity mode only', () => {
      const graph = parseBicep(join(infra, 'main-graph.bicep')).rootNode;
      const graphVars = variables(graph);
      const fics = descendants(graph, 'resource_declaration').filter((r) =>
        /^'Microsoft\.Graph\/applications\/federatedIdentityCredentials@v1\.0'$/.test(r.namedChildren[1]?.text ?? ''),
      );
      assert.equal(fics.length, 1, 'one Microsoft.Graph/applications/federatedIdentityCredentials@v1.0 resource');
      const fic = fics[0];
      const condition = declarationCondition(fic);
      for (const mode of modes)
        assert.equal(evaluate(condition, { graphCredential: mode }, graphVars), mode === 'managed-identity', `federated credential with ${mode}`);
      const body = declarationBody(fic);
      assert.equal(property(body, 'name')?.text, "'${application.uniqueName}/graph-user-sync'", 'named <application uniqueName>/graph-user-sync');
      // Subject, issuer and audience are main.bicep's outputs, from the identity and the cloud.
      assert.equal(property(body, 'subject')?.text, 'sync.outputs.IDENTITY_PRINCIPAL_ID');
      assert.equal(property(body, 'issuer')?.text, 'sync.outputs.FEDERATED_CREDENTIAL_ISSUER');
      assert.deepEqual(
        property(body, 'audiences')?.namedChildren.map((c) => c.text),
        ['sync.outputs.FEDERATED_CREDENTIAL_AUDIENCE'],
      );

      const outputs = new Map(descendants(main, 'output_declaration').map((o) => [o.namedChildren[0]?.text ?? '', o.namedChildren.at(-1)?.text]));
      assert.equal(outputs.get('IDENTITY_PRINCIPAL_ID'), 'identity.properties.principalId');
      const issuer = outputs.get('FEDERATED_CREDENTIAL_ISSUER') ?? '';
      const audience = outputs.get('FEDERATED_CREDENTIAL_AUDIENCE') ?? '';
      assert.ok(mainVars.has(issuer) && mainVars.has(audience), 'issuer and audience are variables of main.bicep');
      // loginEndpoint ends with '/': <login endpoint><tenant id>/v2.0, no doubled slash.
      assert.equal(mainVars.get(issuer)?.text, "'${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'");
      const audiences = {
        AzureCloud: 'api://AzureADTokenExchange',
        AzureUSGovernment: 'api://AzureADTokenExchangeUSGov',
        AzureChinaCloud: 'api://AzureADTokenExchangeChina',
      };
      for (const [cloud, value] of Object.entries(audiences))
        assert.equal(evaluate(mainVars.get(audience), { 'environment().name': cloud }, mainVars), value, `audience in ${cloud}`);
    });

    it('infra/README.md says what to do after deployment in each mode', () => {
      const readme = readFileSync(join(infra, 'README.md'), 'utf8');
      const section = /## Choosing the credential\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
      assert.ok(section !== '', 'infra/README.md has a "Choosing the credential" section');
      for (const mode of modes) assert.ok(section.includes(`\`${mode}\``), `the section names ${mode}`);
      assert.match(readme, /az keyvault secret set/);
      assert.match(section, /az keyvault certificate create /);
      assert.match(section, /"keyProperties": \{ "exportable": true/, 'the certificate policy makes the key exportable');
      assert.match(section, /az keyvault certificate download [^\n]*-f cert\.pem/);
      assert.match(section, /az ad app credential reset --id [^\n]*--cert @cert\.pem --append/);
      assert.match(section, /az ad app federated-credential create/);
      // (`az` lowercases the first letters of output names: identitY_PRINCIPAL_ID.)
      for (const output of ['IDENTITY_PRINCIPAL_ID', 'FEDERATED_CREDENTIAL_ISSUER', 'FEDERATED_CREDENTIAL_AUDIENCE']) {
        assert.ok(section.toLowerCase().includes(output.toLowerCase()), `the section reads the ${output} output`);
      }
    });
  });
});

describe('infra/: both deployment paths', () => {
  const main = parseBicep(join(infra, 'main.bicep')).rootNode;
  const mainVars = variables(main);
  const graph = parseBicep(join(infra, 'main-graph.bicep')).rootNode;
  const declarations = (tree: Parser.SyntaxNode): Map<string, Parser.SyntaxNode> =>
    new Map(descendants(tree, 'parameter_declaration').map((p) => [p.namedChildren[0]?.text ?? '', p]));
  /** A parameter as written: its decorators and its declaration. */
  const written = (param: Parser.SyntaxNode | undefined): string =>
    `${param?.previousNamedSibling?.type === 'decorators' ? param.previousNamedSibling.text : ''}\n${param?.text ?? ''}`;
  const mainParams = declarations(main);
  const outputsOf = (tree: Parser.SyntaxNode): Map<string, string> =>
    new Map(descendants(tree, 'output_declaration').map((o) => [o.namedChildren[0]?.text ?? '', o.namedChildren.at(-1)?.text ?? '']));

  it('main.bicep and every file it deploys use no Bicep extension; main-graph.bicep alone loads the Graph types, pinned to v1.0:1.0.0', () => {
    const config = JSON.parse(readFileSync(join(infra, 'bicepconfig.json'), 'utf8')) as { extensions: Record<string, string> };
    assert.deepEqual(config.extensions, { microsoftGraphV1: 'br:mcr.microsoft.com/bicep/extensions/microsoftgraph/v1.0:1.0.0' });
    // The files main.bicep compiles: itself and its modules, transitively.
    const compiled = new Set<string>();
    const visit = (file: string): void => {
      if (compiled.has(file)) return;
      compiled.add(file);
      for (const m of descendants(parseBicep(file).rootNode, 'module_declaration')) {
        const reference = (m.namedChildren[1]?.text ?? '').replace(/^'|'$/g, '');
        // A registry module (br/public:avm/…, pinned: infra-hardening.test.ts) is Azure Verified Module code, not ours to parse here.
        if (!/^br[:/]/.test(reference)) visit(join(file, '..', reference));
      }
    };
    visit(join(infra, 'main.bicep'));
    assert.ok(compiled.size >= 6);
    for (const file of compiled) {
      const text = readFileSync(file, 'utf8');
      assert.doesNotMatch(text, /^\s*(extension|provider|import)\s/m, `${relative(root, file)} loads an extension`);
      assert.doesNotMatch(text, /'Microsoft\.Graph\//, `${relative(root, file)} declares a Microsoft Graph resource`);
    }
    const withExtension = bicepFiles(infra)
      .filter((f) => /^extension \w+$/m.test(readFileSync(f, 'utf8')))
      .map((f) => relative(root, f));
    assert.deepEqual(withExtension, [join('infra', 'main-graph.bicep')]);
  });

  it("main-graph.bicep declares main.bicep's parameters as main.bicep does, passes each through with the new client id, and re-exports every output", () => {
    const graphParams = declarations(graph);
    for (const [name, param] of mainParams) {
      if (name === 'graphClientId') {
        assert.ok(!graphParams.has(name), 'main-graph.bicep takes no graphClientId: it creates the app registration');
        continue;
      }
      assert.equal(written(graphParams.get(name)), written(param), `main-graph.bicep declares ${name} as main.bicep does`);
    }
    assert.deepEqual(
      [...graphParams.keys()].filter((n) => !mainParams.has(n)),
      ['grantUserReadAll'],
    );
    const modules = descendants(graph, 'module_declaration');
    assert.equal(modules.length, 1);
    assert.equal(modules[0]?.namedChildren[1]?.text, "'main.bicep'");
    const given = property(declarationBody(modules[0]), 'params');
    for (const name of mainParams.keys()) {
      assert.equal(property(given, name)?.text, name === 'graphClientId' ? 'application.appId' : name, `main-graph.bicep passes ${name}`);
    }
    const mainOutputs = outputsOf(main);
    const graphOutputs = outputsOf(graph);
    assert.deepEqual([...graphOutputs.keys()], [...mainOutputs.keys()], 'the same outputs, in the same order');
    // ADMIN_CONSENT_GRANTED is main-graph.bicep's own: it makes the app role assignment, main.bicep does not.
    for (const name of mainOutputs.keys()) assert.equal(graphOutputs.get(name), name === 'ADMIN_CONSENT_GRANTED' ? 'grantUserReadAll' : `sync.outputs.${name}`);
    // The grant can be left out on a redeploy ("EntitlementGrant entry already exists").
    const grant = descendants(graph, 'resource_declaration').find((r) => /^'Microsoft\.Graph\/appRoleAssignedTo@v1\.0'$/.test(r.namedChildren[1]?.text ?? ''));
    assert.equal(declarationCondition(grant)?.text, '(grantUserReadAll)');
    assert.equal(evaluate(graphParams.get('grantUserReadAll')?.namedChildren.at(-1), {}, new Map()), true);
    // One environment, one set of names: the same resource token as main.bicep.
    assert.equal(variables(graph).get('resourceToken')?.text, mainVars.get('resourceToken')?.text);
  });

  it('graphClientId is not asked for when the deployment creates the app registration, and main.bicep stops with what to do when it is missing', () => {
    const param = mainParams.get('graphClientId');
    assert.equal(param?.namedChildren.at(-1)?.text, "''", 'graphClientId defaults to empty');
    const setting = mainVars.get('graphClientIdSetting');
    assert.equal(setting?.type, 'ternary_expression');
    assert.equal(setting?.childForFieldName('condition')?.text, 'empty(graphClientId)');
    const failure = setting?.childForFieldName('consequence');
    assert.equal(failure?.childForFieldName('function')?.text, 'fail');
    assert.match(failure?.text ?? '', /graphClientId is empty.*GRAPH_CLIENT_ID.*-p graphClientId=.*main-graph\.bicep/);
    assert.equal(setting?.childForFieldName('alternative')?.text, 'graphClientId');
    // GRAPH_CLIENT_ID, the outputs and the consent URL all use the checked value.
    const { node, vars } = syncSettingsExpression();
    assert.equal(settingsOf(node, vars).get('GRAPH_CLIENT_ID')?.text, 'graphClientIdSetting');
    assert.equal(outputsOf(main).get('GRAPH_CLIENT_ID'), 'graphClientIdSetting');
    assert.match(outputsOf(main).get('ADMIN_CONSENT_URL') ?? '', /client_id=\$\{graphClientIdSetting\}/);
  });

  it("the parameter files map the azd environment as Microsoft's template does, and nothing else from it", () => {
    const mapped = {
      environmentName: '${AZURE_ENV_NAME}',
      location: '${AZURE_LOCATION}',
      developerPrincipalId: '${AZURE_PRINCIPAL_ID}',
      developerPrincipalType: '${AZURE_PRINCIPAL_TYPE}',
      graphClientId: '${GRAPH_CLIENT_ID}',
      // `:-`: the default also when the variable is set but empty (`=` keeps the empty value).
      graphCredential: '${GRAPH_CREDENTIAL:-secret}',
      keyVaultNameSuffix: '${KEY_VAULT_NAME_SUFFIX}',
      alertEmail: '${ALERT_EMAIL}',
    };
    const mainFile = parametersFile('main');
    const graphFile = parametersFile('main-graph');
    for (const [name, value] of Object.entries(mapped)) assert.equal(mainFile[name]?.value, value, `main.parameters.json: ${name}`);
    for (const [name, entry] of Object.entries(mainFile)) {
      if (typeof entry.value === 'string' && entry.value.includes('${')) assert.ok(name in mapped, `${name} is mapped to an azd variable`);
    }
    // main-graph: the same, without graphClientId.
    assert.deepEqual(graphFile, Object.fromEntries(Object.entries(mainFile).filter(([name]) => name !== 'graphClientId')));
    // A literal in a parameters file must be the template's own default (the file only documents it).
    for (const [name, entry] of Object.entries(mainFile)) {
      if (typeof entry.value === 'string' && entry.value.includes('${')) continue;
      const declared = mainParams.get(name)?.namedChildren.at(-1)?.text;
      assert.equal(declared, typeof entry.value === 'string' ? `'${entry.value}'` : String(entry.value), `${name}: the parameters file repeats the default`);
    }
    // azd asks for the location with its picker.
    assert.match(written(mainParams.get('location')), /@metadata\(\{ azd: \{ type: 'location' \} \}\)/);
    assert.match(written(mainParams.get('location')), /@minLength\(1\)/);
  });

  it('grants the developer roles to the given principal, else to whoever deploys (deployer()), and to nobody on request', () => {
    const developer = mainVars.get('developerPrincipal');
    assert.equal(evaluate(developer, { grantDeveloperRoles: false, developerPrincipalId: '' }, mainVars), '');
    assert.equal(evaluate(developer, { grantDeveloperRoles: false, developerPrincipalId: 'someone' }, mainVars), '');
    assert.equal(evaluate(developer, { grantDeveloperRoles: true, developerPrincipalId: 'someone' }, mainVars), 'someone');
    assert.equal(developer?.text, "grantDeveloperRoles ? (empty(developerPrincipalId) ? deployer().objectId : developerPrincipalId) : ''");
    const rbac = descendants(main, 'module_declaration').find((m) => m.namedChildren[0]?.text === 'rbac');
    assert.equal(property(property(declarationBody(rbac), 'params'), 'developerPrincipalId')?.text, 'developerPrincipal');
    assert.equal(mainParams.get('grantDeveloperRoles')?.namedChildren.at(-1)?.text, 'true');
    assert.match(written(mainParams.get('developerPrincipalType')), /@allowed\(\['User', 'ServicePrincipal', 'Group'\]\)/);
  });

  it("emits the outputs azd's Functions templates emit", () => {
    const outputs = outputsOf(main);
    assert.equal(outputs.get('AZURE_FUNCTION_NAME'), 'functionApp.outputs.name');
    assert.equal(outputs.get('SERVICE_API_NAME'), 'functionApp.outputs.name');
    assert.equal(outputs.get('AZURE_LOCATION'), 'appLocation', 'the location, once checked for Flex Consumption');
    assert.equal(outputs.get('AZURE_TENANT_ID'), 'tenant().tenantId');
    assert.equal(outputs.get('APPLICATIONINSIGHTS_CONNECTION_STRING'), 'monitoring.outputs.connectionString');
    assert.ok(!outputs.has('FUNCTION_APP_NAME'), 'one name for the app: AZURE_FUNCTION_NAME');
    // The service the app is deployed as is the one azure.yaml names.
    assert.match(readFileSync(join(infra, 'modules', 'functionapp.bicep'), 'utf8'), /'azd-service-name': 'api'/);
    assert.match(readFileSync(join(root, 'azure.yaml'), 'utf8'), /^services:\n {2}api:\n/m);
  });

  it("names the vault with a changeable suffix, within Key Vault's 24 characters, and keeps purge protection", () => {
    // The name, or fail() with what to do when the suffix holds anything but letters and digits.
    const keyVaultName = mainVars.get('keyVaultName');
    assert.equal(keyVaultName?.type, 'ternary_expression');
    assert.equal(keyVaultName?.childForFieldName('condition')?.text, 'empty(suffixRefused)');
    assert.equal(keyVaultName?.childForFieldName('consequence')?.text, "'kv-${resourceToken}${keyVaultNameSuffix}'");
    assert.match(
      keyVaultName?.childForFieldName('alternative')?.text ?? '',
      /^fail\('keyVaultNameSuffix \(KEY_VAULT_NAME_SUFFIX\) may hold letters and digits only/,
    );
    assert.match(written(mainParams.get('keyVaultNameSuffix')), /@maxLength\(8\)/);
    assert.equal(
      mainParams.get('keyVaultNameSuffix')?.namedChildren.at(-1)?.text,
      "''",
      'no suffix by default: the name of an existing deployment does not change',
    );
    // uniqueString() is 13 characters: 'kv-' + 13 + 8 = 24.
    assert.match(mainVars.get('resourceToken')?.text ?? '', /^toLower\(uniqueString\(/);
    assert.ok('kv-'.length + 13 + 8 <= 24);
    assert.match(readFileSync(join(infra, 'modules', 'keyvault.bicep'), 'utf8'), /enablePurgeProtection: true/);
  });

  it('infra/README.md states the versions each path needs and steps that work from a fresh clone', () => {
    const readme = readFileSync(join(infra, 'README.md'), 'utf8');
    for (const needed of [/Bicep 0\.36\.1/, /azd 1\.18\.0/, /0\.32\.4/, /az bicep upgrade/, /Core Tools 4\.0\.5700/]) assert.match(readme, needed);
    // az does not substitute azd's ${...}: Path 2 passes its parameters itself.
    const path2 = /## Path 2: az \+ func\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
    assert.ok(path2 !== '');
    assert.doesNotMatch(path2, /-p infra\/main(-graph)?\.parameters\.json/);
    assert.match(path2, /az deployment group create -g [^\n]*-f infra\/main\.bicep/);
    // No local.settings.json in a fresh clone: the worker runtime comes from the flag; the remote
    // build installs the dependencies that .funcignore leaves out.
    assert.match(path2, /func azure functionapp publish "\$APP" --typescript --build remote/);
    assert.match(path2, /AZURE_FUNCTION_NAME/i);
    const path1 = /## Path 1: azd\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
    assert.match(path1, /azd env set GRAPH_CLIENT_ID/);
    for (const text of [
      'azd down --purge',
      'KEY_VAULT_NAME_SUFFIX',
      'az keyvault recover',
      'Not a valid reference update',
      'EntitlementGrant entry already exists',
      'grantUserReadAll',
      'msgraph-bicep-types/issues/264',
      'main-graph.bicep',
    ]) {
      assert.ok(readme.includes(text), `infra/README.md mentions ${text}`);
    }
  });
});
