import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type Parser from 'tree-sitter';
import { type Values, evaluate, infra, parseBicep, variables } from '../helpers/bicep';

// infra/ hardening (issue 11) without Azure, parsed with tree-sitter-bicep like test/infra.test.ts:
// private networking (vnetEnabled) and diagnostic settings (diagnosticsEnabled): what the Bicep
// compiler cannot say (which resources each flag deploys, in which cloud which zone); the types,
// properties and references themselves are the compiler's (test/infra/bicep-build.test.ts). The parse helpers are test/helpers/bicep.ts's; the
// evaluator here also handles string interpolation and replace() (the private DNS zone names).

const named = (node: Parser.SyntaxNode | undefined | null): Parser.SyntaxNode[] => (node?.namedChildren ?? []).filter((c) => c.type !== 'comment');

/** A file's parameters: name → declaration. */
function parameters(tree: Parser.SyntaxNode): Map<string, Parser.SyntaxNode> {
  return new Map(tree.descendantsOfType('parameter_declaration').map((p) => [p.namedChildren[0]?.text ?? '', p]));
}

/** The object literal of a resource or module declaration (also behind `= if (...)`). */
function declarationBody(declaration: Parser.SyntaxNode | undefined): Parser.SyntaxNode | undefined {
  const direct = declaration?.namedChildren.find((c) => c.type === 'object');
  return direct ?? declaration?.namedChildren.find((c) => c.type === 'if_statement')?.namedChildren.find((c) => c.type === 'object');
}

/** The condition of a resource or module declared `= if (condition) { ... }`; undefined when unconditional. */
function declarationCondition(declaration: Parser.SyntaxNode | undefined): Parser.SyntaxNode | undefined {
  return declaration?.namedChildren.find((c) => c.type === 'if_statement')?.namedChildren.find((c) => c.type === 'parenthesized_expression');
}

const unquote = (text: string | undefined): string => (text ?? '').replace(/^'|'$/g, '');

function property(object: Parser.SyntaxNode | undefined, key: string): Parser.SyntaxNode | undefined {
  const found = object?.namedChildren.find((c) => c.type === 'object_property' && unquote(c.namedChildren[0]?.text) === key);
  return found?.namedChildren[1];
}

/** Keys of an object literal (its direct properties). */
function objectKeys(object: Parser.SyntaxNode | undefined): string[] {
  return named(object)
    .filter((c) => c.type === 'object_property')
    .map((p) => unquote(p.namedChildren[0]?.text));
}

/** A resource's or module's type/path string, e.g. `Microsoft.Storage/storageAccounts@2023-05-01`. */
const declaredType = (declaration: Parser.SyntaxNode | undefined): string => unquote(declaration?.namedChildren[1]?.text);
const isExisting = (declaration: Parser.SyntaxNode): boolean => declaration.children.some((c) => c.type === 'existing');

function topLevel(tree: Parser.SyntaxNode, type: 'resource_declaration' | 'module_declaration'): Map<string, Parser.SyntaxNode> {
  return new Map(tree.namedChildren.filter((c) => c.type === type).map((d) => [d.namedChildren[0]?.text ?? '', d]));
}

/** Every combination of the given boolean parameters. */
function combinations(names: readonly string[]): Record<string, boolean>[] {
  return names.reduce<Record<string, boolean>[]>((all, name) => all.flatMap((values) => [false, true].map((value) => ({ ...values, [name]: value }))), [{}]);
}

/** Whether a conditional expression is decidable and true / false for these values. */
function holds(condition: Parser.SyntaxNode | undefined, values: Values, vars: ReadonlyMap<string, Parser.SyntaxNode>): boolean {
  if (condition === undefined) return true;
  const value = evaluate(condition, values, vars);
  assert.equal(typeof value, 'boolean', `cannot decide ${condition.text} with ${JSON.stringify(values)}`);
  return value === true;
}

const clouds = {
  AzureCloud: { storage: 'core.windows.net', keyvaultDns: '.vault.azure.net', vaultZone: 'privatelink.vaultcore.azure.net' },
  AzureUSGovernment: { storage: 'core.usgovcloudapi.net', keyvaultDns: '.vault.usgovcloudapi.net', vaultZone: 'privatelink.vaultcore.usgovcloudapi.net' },
  AzureChinaCloud: { storage: 'core.chinacloudapi.cn', keyvaultDns: '.vault.azure.cn', vaultZone: 'privatelink.vaultcore.azure.cn' },
} as const;

describe('infra/ hardening (issue 11)', () => {
  const main = parseBicep(join(infra, 'main.bicep')).rootNode;
  const mainVars = variables(main);
  const mainParams = parameters(main);
  const mainModules = topLevel(main, 'module_declaration');
  const moduleParams = (name: string): Parser.SyntaxNode | undefined => property(declarationBody(mainModules.get(name)), 'params');

  const network = parseBicep(join(infra, 'modules', 'network.bicep')).rootNode;
  const networkVars = variables(network);
  const networkModules = topLevel(network, 'module_declaration');
  const networkResources = topLevel(network, 'resource_declaration');
  const modes = ['secret', 'certificate', 'managed-identity'] as const;
  const networkScopes = combinations(['vnetEnabled', 'keyVaultDeployed']);

  it('vnetEnabled is a described bool parameter, false by default; diagnosticsEnabled is true by default', () => {
    for (const [name, expected] of [
      ['vnetEnabled', false],
      ['diagnosticsEnabled', true],
    ] as const) {
      const param = mainParams.get(name);
      assert.ok(param, `main.bicep declares param ${name}`);
      assert.equal(param.namedChildren[1]?.text, 'bool');
      assert.equal(evaluate(param.namedChildren.at(-1), {}, mainVars), expected, `${name} defaults to ${String(expected)}`);
      assert.match(param.previousNamedSibling?.type === 'decorators' ? param.previousNamedSibling.text : '', /@description\('/, `${name} has a description`);
    }
    // The modules that take it default to off too.
    for (const file of ['storage.bicep', 'keyvault.bicep']) {
      const param = parameters(parseBicep(join(infra, 'modules', file)).rootNode).get('vnetEnabled');
      assert.equal(param?.namedChildren.at(-1)?.text, 'false', `${file}: vnetEnabled = false`);
    }
    assert.equal(
      parameters(parseBicep(join(infra, 'modules', 'functionapp.bicep')).rootNode)
        .get('virtualNetworkSubnetId')
        ?.namedChildren.at(-1)?.text,
      "''",
    );
  });

  it("main.bicep hands vnetEnabled to the storage account, the vault and the network, and the network's subnet to the app", () => {
    for (const name of ['storage', 'keyVault', 'network'])
      assert.equal(property(moduleParams(name), 'vnetEnabled')?.text, 'vnetEnabled', `${name} gets vnetEnabled`);
    assert.equal(property(moduleParams('functionApp'), 'virtualNetworkSubnetId')?.text, 'network.outputs.appSubnetId');
    assert.equal(property(moduleParams('diagnostics'), 'diagnosticsEnabled')?.text, 'diagnosticsEnabled');
    for (const name of ['network', 'diagnostics']) {
      // Deployed in every configuration (their content is conditional), so the list of conditional
      // modules test/infra.test.ts checks does not change; like rbac they wait for the vault.
      assert.equal(declarationCondition(mainModules.get(name)), undefined, `${name} is unconditional`);
      assert.deepEqual(
        named(property(declarationBody(mainModules.get(name)), 'dependsOn')).map((c) => c.text),
        ['keyVault', 'storage'],
      );
      assert.equal(
        property(moduleParams(name), 'storageAccountName')?.text,
        property(moduleParams('storage'), 'storageAccountName')?.text,
        `${name} names the account storage deploys`,
      );
      assert.equal(
        property(moduleParams(name), 'keyVaultName')?.text,
        property(moduleParams('keyVault'), 'keyVaultName')?.text,
        `${name} names the vault keyVault deploys`,
      );
      const deployed = property(moduleParams(name), 'keyVaultDeployed');
      const keyVaultCondition = declarationCondition(mainModules.get('keyVault'));
      for (const graphCredential of modes) {
        assert.equal(
          evaluate(deployed, { graphCredential }, mainVars),
          evaluate(keyVaultCondition, { graphCredential }, mainVars),
          `${name}: keyVaultDeployed with ${graphCredential}`,
        );
      }
    }
  });

  // A nested resource of a declaration, by symbolic name (the subnets, zone links, zone groups).
  const child = (declaration: Parser.SyntaxNode | undefined, name: string): Parser.SyntaxNode | undefined =>
    declaration?.descendantsOfType('resource_declaration').find((r) => r.namedChildren[0]?.text === name);
  const subnets = named(property(property(declarationBody(networkResources.get('virtualNetwork')), 'properties'), 'subnets'));
  const subnetName = (reference: string): string | boolean | undefined =>
    evaluate(property(declarationBody(child(networkResources.get('virtualNetwork'), reference)), 'name'), {}, networkVars);

  it("deploys every network resource only with vnetEnabled, the vault's only where a vault exists", () => {
    // `existing` references deploy nothing: the storage account and the vault the endpoints target.
    const existing = [...networkResources].filter(([, r]) => isExisting(r));
    assert.deepEqual(existing.map(([name, r]) => `${name}: ${declaredType(r).replace(/@.*$/, '')}`).sort(), [
      'storage: Microsoft.Storage/storageAccounts',
      'vault: Microsoft.KeyVault/vaults',
    ]);
    assert.equal(networkModules.size, 0, 'no modules: native resources only');
    // Nested resources (subnets, zone links, zone groups) are deployed with their parent.
    const deployable = [...networkResources].filter(([, r]) => !isExisting(r));
    assert.equal(deployable.length, 7, 'the VNet, three zones, three endpoints');
    for (const [name, declaration] of deployable) {
      const condition = declarationCondition(declaration);
      assert.ok(condition, `${name} is conditional`);
      const forVault = /vault/i.test(name);
      for (const values of networkScopes) {
        const expected = values['vnetEnabled'] === true && (!forVault || values['keyVaultDeployed'] === true);
        assert.equal(holds(condition, values, networkVars), expected, `${name} with ${JSON.stringify(values)}`);
      }
    }
  });

  it('has private endpoints for blob, queue and vault on the endpoint subnet, each with its private DNS zone for the cloud, linked to the VNet', () => {
    const endpoints = [...networkResources].filter(([, r]) => declaredType(r).startsWith('Microsoft.Network/privateEndpoints@'));
    const byGroup = new Map(
      endpoints.map(([name, r]) => {
        const properties = property(declarationBody(r), 'properties');
        const connections = named(property(properties, 'privateLinkServiceConnections'));
        assert.equal(connections.length, 1, `${name}: one connection`);
        const connection = property(connections[0], 'properties');
        const groupIds = named(property(connection, 'groupIds')).map((g) => unquote(g.text));
        assert.equal(groupIds.length, 1, `${name}: one group id`);
        return [groupIds[0] ?? '', { name, declaration: r, properties, target: property(connection, 'privateLinkServiceId')?.text }] as const;
      }),
    );
    assert.deepEqual([...byGroup.keys()].sort(), ['blob', 'queue', 'vault']);
    assert.equal(byGroup.get('blob')?.target, 'storage.id');
    assert.equal(byGroup.get('queue')?.target, 'storage.id');
    assert.equal(byGroup.get('vault')?.target, 'vault.id');
    assert.equal(property(declarationBody(networkResources.get('storage')), 'name')?.text, 'storageAccountName');
    assert.equal(property(declarationBody(networkResources.get('vault')), 'name')?.text, 'keyVaultName');

    const endpointSubnet = subnets.find((s) => property(property(s, 'properties'), 'delegations') === undefined);
    assert.ok(endpointSubnet, 'a subnet without delegation holds the endpoints');
    assert.equal(evaluate(property(property(endpointSubnet, 'properties'), 'privateEndpointNetworkPolicies'), {}, networkVars), 'Disabled');
    const endpointSubnetName = evaluate(property(endpointSubnet, 'name'), {}, networkVars);

    const zones = new Map([...networkResources].filter(([, r]) => declaredType(r).startsWith('Microsoft.Network/privateDnsZones@')));
    for (const [group, endpoint] of byGroup) {
      const subnetId = property(property(endpoint.properties, 'subnet'), 'id')?.text ?? '';
      const subnetRef = /^virtualNetwork::(\w+)\.id$/.exec(subnetId)?.[1] ?? '';
      assert.equal(subnetName(subnetRef), endpointSubnetName, `${group}: on the endpoint subnet (${subnetId})`);

      const zoneGroup = child(endpoint.declaration, 'zoneGroup');
      const configs = named(property(property(declarationBody(zoneGroup), 'properties'), 'privateDnsZoneConfigs'));
      assert.equal(configs.length, 1, `${group}: one DNS zone`);
      const zoneName = /^(\w+)\.id$/.exec(property(property(configs[0], 'properties'), 'privateDnsZoneId')?.text ?? '')?.[1] ?? '';
      const zone = zones.get(zoneName);
      assert.ok(zone, `${group}: its zone is a private DNS zone of this file (${zoneName})`);
      for (const values of networkScopes) {
        assert.equal(
          holds(declarationCondition(zone), values, networkVars),
          holds(declarationCondition(endpoint.declaration), values, networkVars),
          `${group}: zone and endpoint deployed together`,
        );
      }
      for (const [cloud, suffixes] of Object.entries(clouds)) {
        const values = { 'environment().suffixes.storage': suffixes.storage, 'environment().suffixes.keyvaultDns': suffixes.keyvaultDns };
        const expected = group === 'vault' ? suffixes.vaultZone : `privatelink.${group}.${suffixes.storage}`;
        assert.equal(evaluate(property(declarationBody(zone), 'name'), values, networkVars), expected, `${group} zone in ${cloud}`);
      }
      const links = zone.descendantsOfType('resource_declaration').filter((r) => r.namedChildren[1]?.text === "'virtualNetworkLinks'");
      assert.equal(links.length, 1, `${group}: zone linked to one VNet`);
      const linkProperties = property(declarationBody(links[0]), 'properties');
      assert.equal(property(property(linkProperties, 'virtualNetwork'), 'id')?.text, 'virtualNetwork.id');
      assert.equal(property(linkProperties, 'registrationEnabled')?.text, 'false');
    }
    assert.equal(zones.size, 3, 'one zone per endpoint');
  });

  it('integrates the site with a subnet delegated to Microsoft.App/environments exactly when vnetEnabled', () => {
    const delegated = subnets.filter((s) => property(property(s, 'properties'), 'delegations') !== undefined);
    assert.equal(delegated.length, 1, 'one delegated subnet');
    const delegations = named(property(property(delegated[0], 'properties'), 'delegations'));
    assert.deepEqual(
      delegations.map((d) => evaluate(property(property(d, 'properties'), 'serviceName'), {}, networkVars)),
      ['Microsoft.App/environments'],
      'the delegation Flex Consumption requires',
    );
    const appSubnetName = evaluate(property(delegated[0], 'name'), {}, networkVars);

    const output = network.descendantsOfType('output_declaration').find((o) => o.namedChildren[0]?.text === 'appSubnetId');
    const value = output?.namedChildren.at(-1);
    assert.equal(value?.type, 'ternary_expression');
    assert.equal(evaluate(value, { vnetEnabled: false }, networkVars), '', 'no subnet without vnetEnabled');
    assert.equal(value?.childForFieldName('condition')?.text, 'vnetEnabled');
    const subnetRef = /^virtualNetwork::(\w+)\.id$/.exec(value?.childForFieldName('consequence')?.text ?? '')?.[1] ?? '';
    assert.equal(subnetName(subnetRef), appSubnetName, 'the delegated subnet');

    // The site takes it as virtualNetworkSubnetId, or nothing when it is empty.
    const app = parseBicep(join(infra, 'modules', 'functionapp.bicep')).rootNode;
    const site = [...topLevel(app, 'resource_declaration').values()].find((r) => declaredType(r).startsWith('Microsoft.Web/sites@'));
    const subnet = property(property(declarationBody(site), 'properties'), 'virtualNetworkSubnetId');
    assert.equal(subnet?.type, 'ternary_expression', 'site properties.virtualNetworkSubnetId');
    assert.equal(subnet?.childForFieldName('condition')?.text, 'empty(virtualNetworkSubnetId)');
    assert.equal(subnet?.childForFieldName('consequence')?.type, 'null');
    assert.equal(subnet?.childForFieldName('alternative')?.text, 'virtualNetworkSubnetId');
  });

  it('disables public network access on the storage account and the vault exactly when vnetEnabled', () => {
    for (const [file, type] of [
      ['storage.bicep', 'Microsoft.Storage/storageAccounts@'],
      ['keyvault.bicep', 'Microsoft.KeyVault/vaults@'],
    ] as const) {
      const tree = parseBicep(join(infra, 'modules', file)).rootNode;
      const vars = variables(tree);
      const resource = [...topLevel(tree, 'resource_declaration').values()].find((r) => declaredType(r).startsWith(type) && !isExisting(r));
      const properties = property(declarationBody(resource), 'properties');
      for (const vnetEnabled of [false, true]) {
        assert.equal(
          evaluate(property(properties, 'publicNetworkAccess'), { vnetEnabled }, vars),
          vnetEnabled ? 'Disabled' : 'Enabled',
          `${file}: publicNetworkAccess with vnetEnabled ${String(vnetEnabled)}`,
        );
        assert.equal(
          evaluate(property(property(properties, 'networkAcls'), 'defaultAction'), { vnetEnabled }, vars),
          vnetEnabled ? 'Deny' : 'Allow',
          `${file}: networkAcls.defaultAction with vnetEnabled ${String(vnetEnabled)}`,
        );
      }
    }
  });

  it("sends Key Vault audit events and the blob and queue services' read, write and delete logs to the workspace", () => {
    const diagnostics = parseBicep(join(infra, 'modules', 'diagnostics.bicep')).rootNode;
    const vars = variables(diagnostics);
    const resources = topLevel(diagnostics, 'resource_declaration');
    const settings = [...resources.values()].filter((r) => declaredType(r).startsWith('Microsoft.Insights/diagnosticSettings@'));
    const byScope = new Map(settings.map((s) => [property(declarationBody(s), 'scope')?.text ?? '', s]));
    assert.deepEqual([...byScope.keys()].sort(), ['storage::blobServices', 'storage::queueServices', 'vault']);

    // The scopes are the account's blob and queue services and the vault, named by parameters.
    const storage = resources.get('storage');
    assert.ok(storage && isExisting(storage) && declaredType(storage).startsWith('Microsoft.Storage/storageAccounts@'));
    const nested = storage.descendantsOfType('resource_declaration');
    for (const [name, type] of [
      ['blobServices', "'blobServices'"],
      ['queueServices', "'queueServices'"],
    ]) {
      const service = nested.find((r) => r.namedChildren[0]?.text === name);
      assert.equal(service?.namedChildren[1]?.text, type);
      assert.equal(property(declarationBody(service), 'name')?.text, "'default'");
    }
    const vault = resources.get('vault');
    assert.ok(vault && isExisting(vault) && declaredType(vault).startsWith('Microsoft.KeyVault/vaults@'));
    assert.equal(property(declarationBody(vault), 'name')?.text, 'keyVaultName');

    const logsOf = (setting: Parser.SyntaxNode | undefined): Parser.SyntaxNode[] => {
      const logs = property(property(declarationBody(setting), 'properties'), 'logs');
      return named(logs?.type === 'identifier' ? vars.get(logs.text) : logs);
    };
    for (const [scope, setting] of byScope) {
      assert.equal(property(property(declarationBody(setting), 'properties'), 'workspaceId')?.text, 'logAnalyticsWorkspaceId', `${scope}: into the workspace`);
      for (const log of logsOf(setting)) assert.equal(property(log, 'enabled')?.text, 'true', `${scope}: ${log.text} enabled`);
    }
    const vaultLogs = logsOf(byScope.get('vault')).map((l) => `${objectKeys(l)[0] ?? ''}=${unquote(property(l, objectKeys(l)[0] ?? '')?.text)}`);
    assert.ok(vaultLogs.includes('categoryGroup=audit') || vaultLogs.includes('category=AuditEvent'), `vault: audit events (${vaultLogs.join(', ')})`);
    for (const scope of ['storage::blobServices', 'storage::queueServices']) {
      assert.deepEqual(
        logsOf(byScope.get(scope))
          .map((l) => unquote(property(l, 'category')?.text))
          .sort(),
        ['StorageDelete', 'StorageRead', 'StorageWrite'],
        scope,
      );
    }

    // Deployed with diagnosticsEnabled; the vault's only where it exists.
    for (const values of combinations(['diagnosticsEnabled', 'keyVaultDeployed'])) {
      for (const [scope, setting] of byScope) {
        const expected = values['diagnosticsEnabled'] === true && (scope !== 'vault' || values['keyVaultDeployed'] === true);
        assert.equal(holds(declarationCondition(setting), values, vars), expected, `${scope} with ${JSON.stringify(values)}`);
      }
    }

    // The workspace is monitoring.bicep's Log Analytics workspace.
    assert.equal(property(moduleParams('diagnostics'), 'logAnalyticsWorkspaceId')?.text, 'monitoring.outputs.logAnalyticsWorkspaceId');
    const monitoring = parseBicep(join(infra, 'modules', 'monitoring.bicep')).rootNode;
    const output = monitoring.descendantsOfType('output_declaration').find((o) => o.namedChildren[0]?.text === 'logAnalyticsWorkspaceId');
    const workspace = /^(\w+)\.id$/.exec(output?.namedChildren.at(-1)?.text ?? '')?.[1] ?? '';
    assert.ok(
      declaredType(topLevel(monitoring, 'resource_declaration').get(workspace)).startsWith('Microsoft.OperationalInsights/workspaces@'),
      'monitoring.bicep outputs its workspace id',
    );
  });

  it('infra/README.md documents the hardening', () => {
    const readme = readFileSync(join(infra, 'README.md'), 'utf8');
    const section = /\n## Hardening\n([\s\S]*?)(\n## |$)/.exec(readme)?.[1] ?? '';
    assert.ok(section !== '', 'a "Hardening" section');
    for (const text of [
      '`vnetEnabled`',
      '`diagnosticsEnabled`',
      'Microsoft.App/environments',
      'az provider register --namespace Microsoft.App',
      'privatelink.blob.core.windows.net',
      'privatelink.queue.core.windows.net',
      'privatelink.vaultcore.azure.net',
      'deployment container',
      'US$',
      'az keyvault network-rule add',
      '--public-network-access Disabled',
      'AuditEvent',
      'StorageRead',
      'always hand-written',
    ]) {
      assert.ok(section.includes(text), `the section mentions ${text}`);
    }
  });
});
