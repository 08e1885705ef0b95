import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import type Parser from 'tree-sitter';
import { type Values, bicepFiles, errors, evaluate, infra, parseBicep, root, variables } from '../helpers/bicep';

// infra/ hardening (issue 11) without Azure, parsed with tree-sitter-bicep like test/infra.test.ts:
// private networking (vnetEnabled), diagnostic settings (diagnosticsEnabled), and the Azure
// Verified Modules network.bicep uses. The parse helpers are test/helpers/bicep.ts's; the
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

/**
 * The Azure Verified Modules this template may use, each at the exact version pinned, with the
 * parameters of that version: read from its main.bicep at the release tag
 * avm/res/network/<module>/<version> of Azure/bicep-registry-modules (no registry is reachable
 * here to compile against). A new module or version must be checked and added here.
 * `items` lists the keys allowed inside array parameters of objects, `object` those of object
 * parameters; `required` keys must be given.
 */
interface ParameterShape {
  readonly keys: readonly string[];
  readonly required?: readonly string[];
  readonly nested?: Readonly<Record<string, ParameterShape>>;
}
const verifiedModules: Record<
  string,
  { readonly params: ParameterShape; readonly items?: Readonly<Record<string, ParameterShape>>; readonly object?: Readonly<Record<string, ParameterShape>> }
> = {
  'avm/res/network/virtual-network:0.6.1': {
    params: {
      keys: [
        'name',
        'location',
        'addressPrefixes',
        'virtualNetworkBgpCommunity',
        'subnets',
        'dnsServers',
        'ddosProtectionPlanResourceId',
        'peerings',
        'vnetEncryption',
        'vnetEncryptionEnforcement',
        'flowTimeoutInMinutes',
        'diagnosticSettings',
        'lock',
        'roleAssignments',
        'tags',
        'enableTelemetry',
        'enableVmProtection',
      ],
      required: ['name', 'addressPrefixes'],
    },
    items: {
      // subnetType
      subnets: {
        keys: [
          'name',
          'addressPrefix',
          'addressPrefixes',
          'applicationGatewayIPConfigurations',
          'delegation',
          'natGatewayResourceId',
          'networkSecurityGroupResourceId',
          'privateEndpointNetworkPolicies',
          'privateLinkServiceNetworkPolicies',
          'roleAssignments',
          'routeTableResourceId',
          'serviceEndpointPolicies',
          'serviceEndpoints',
          'defaultOutboundAccess',
          'sharingScope',
        ],
        required: ['name'],
      },
    },
  },
  'avm/res/network/private-endpoint:0.11.0': {
    params: {
      keys: [
        'name',
        'subnetResourceId',
        'applicationSecurityGroupResourceIds',
        'customNetworkInterfaceName',
        'ipConfigurations',
        'privateDnsZoneGroup',
        'location',
        'lock',
        'roleAssignments',
        'tags',
        'customDnsConfigs',
        'manualPrivateLinkServiceConnections',
        'privateLinkServiceConnections',
        'enableTelemetry',
      ],
      required: ['name', 'subnetResourceId'],
    },
    items: {
      // privateLinkServiceConnectionType
      privateLinkServiceConnections: {
        keys: ['name', 'properties'],
        required: ['name', 'properties'],
        nested: { properties: { keys: ['groupIds', 'privateLinkServiceId', 'requestMessage'], required: ['groupIds', 'privateLinkServiceId'] } },
      },
    },
    object: {
      // privateDnsZoneGroupType, its configs privateDnsZoneGroupConfigType (private-dns-zone-group/main.bicep)
      privateDnsZoneGroup: {
        keys: ['name', 'privateDnsZoneGroupConfigs'],
        required: ['privateDnsZoneGroupConfigs'],
        nested: { privateDnsZoneGroupConfigs: { keys: ['name', 'privateDnsZoneResourceId'], required: ['privateDnsZoneResourceId'] } },
      },
    },
  },
  'avm/res/network/private-dns-zone:0.7.1': {
    params: {
      keys: [
        'name',
        'a',
        'aaaa',
        'cname',
        'mx',
        'ptr',
        'soa',
        'srv',
        'txt',
        'virtualNetworkLinks',
        'location',
        'roleAssignments',
        'tags',
        'lock',
        'enableTelemetry',
      ],
      required: ['name'],
    },
    items: {
      // virtualNetworkLinkType
      virtualNetworkLinks: {
        keys: ['name', 'virtualNetworkResourceId', 'location', 'registrationEnabled', 'tags', 'resolutionPolicy'],
        required: ['virtualNetworkResourceId'],
      },
    },
  },
};

/** Checks an object literal against a recorded shape; an array value of a nested key checks each element. */
function checkShape(object: Parser.SyntaxNode | undefined, shape: ParameterShape, where: string): void {
  assert.equal(object?.type, 'object', `${where}: an object literal`);
  const keys = objectKeys(object);
  for (const key of keys) assert.ok(shape.keys.includes(key), `${where}: ${key} is not a parameter of the recorded version`);
  for (const key of shape.required ?? []) assert.ok(keys.includes(key), `${where}: required ${key} missing`);
  for (const [key, nested] of Object.entries(shape.nested ?? {})) {
    const value = property(object, key);
    if (value === undefined) continue;
    const elements = value.type === 'array' ? named(value) : [value];
    elements.forEach((element, i) => checkShape(element, nested, `${where}.${key}[${i}]`));
  }
}

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

  for (const file of ['network.bicep', 'diagnostics.bicep']) {
    it(`modules/${file} parses without an ERROR node`, () => {
      assert.deepEqual(errors(parseBicep(join(infra, 'modules', file)).rootNode), []);
    });
  }

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
        ['keyVault'],
      );
      assert.equal(property(moduleParams(name), 'storageAccountName')?.text, 'storage.outputs.name');
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

  it("deploys every network resource and module only with vnetEnabled, the vault's only where a vault exists", () => {
    // `existing` references deploy nothing: the storage account and the vault the endpoints target.
    const existing = [...networkResources].filter(([, r]) => isExisting(r));
    assert.deepEqual(existing.map(([name, r]) => `${name}: ${declaredType(r).replace(/@.*$/, '')}`).sort(), [
      'storage: Microsoft.Storage/storageAccounts',
      'vault: Microsoft.KeyVault/vaults',
    ]);
    const deployable = [...networkModules, ...[...networkResources].filter(([, r]) => !isExisting(r))];
    assert.ok(deployable.length >= 7, 'the VNet, three zones, three endpoints');
    for (const [name, declaration] of deployable) {
      const condition = declarationCondition(declaration);
      assert.ok(condition, `${name} is conditional`);
      const forVault = /vault/i.test(name);
      for (const values of networkScopes) {
        const expected = values['vnetEnabled'] === true && (!forVault || values['keyVaultDeployed'] === true);
        assert.equal(holds(condition, values, networkVars), expected, `${name} with ${JSON.stringify(values)}`);
      }
    }

    // A conditional module's outputs are read only where that module is deployed: inside a module
    // with an implying condition, or behind a ternary that implies it (the outputs).
    let checkedReads = 0;
    for (const [name, declaration] of networkModules) {
      const condition = declarationCondition(declaration);
      const reads = network
        .descendantsOfType('member_expression')
        .filter((e) => e.namedChildren[0]?.type === 'identifier' && e.namedChildren[0].text === name && e.namedChildren[1]?.text === 'outputs');
      checkedReads += reads.length;
      for (const read of reads) {
        let reader: Parser.SyntaxNode | null = read.parent;
        while (reader && reader.type !== 'module_declaration' && reader.type !== 'output_declaration') reader = reader.parent;
        assert.ok(reader, `${read.text} is read in a module or an output`);
        for (const values of networkScopes) {
          let selected = holds(declarationCondition(reader), values, networkVars);
          for (let child = read, parent = read.parent; parent && parent !== reader; child = parent, parent = parent.parent) {
            if (parent.type !== 'ternary_expression' || parent.childForFieldName('condition')?.startIndex === child.startIndex) continue;
            const consequence = parent.childForFieldName('consequence');
            const when = consequence?.startIndex === child.startIndex && consequence.endIndex === child.endIndex;
            selected &&= holds(parent.childForFieldName('condition') ?? undefined, values, networkVars) === when;
          }
          if (selected)
            assert.ok(
              holds(condition, values, networkVars),
              `line ${read.startPosition.row + 1}: ${read.text} is read with ${JSON.stringify(values)}, where ${name} is not deployed`,
            );
        }
      }
    }
    assert.ok(checkedReads >= 10, `module outputs read in network.bicep: ${String(checkedReads)}`);
  });

  it('has private endpoints for blob, queue and vault on the endpoint subnet, each with its private DNS zone for the cloud, linked to the VNet', () => {
    const modulesOf = (path: string): [string, Parser.SyntaxNode][] =>
      [...networkModules].filter(([, m]) => declaredType(m).startsWith(`br/public:avm/res/network/${path}:`));
    const endpoints = modulesOf('private-endpoint');
    const byGroup = new Map(
      endpoints.map(([name, m]) => {
        const params = property(declarationBody(m), 'params');
        const connections = named(property(params, 'privateLinkServiceConnections'));
        assert.equal(connections.length, 1, `${name}: one connection`);
        const connection = property(connections[0], 'properties');
        const groupIds = named(property(connection, 'groupIds')).map((g) => unquote(g.text));
        assert.equal(groupIds.length, 1, `${name}: one group id`);
        return [groupIds[0] ?? '', { name, declaration: m, params, target: property(connection, 'privateLinkServiceId')?.text }] as const;
      }),
    );
    assert.deepEqual([...byGroup.keys()].sort(), ['blob', 'queue', 'vault']);
    assert.equal(byGroup.get('blob')?.target, 'storage.id');
    assert.equal(byGroup.get('queue')?.target, 'storage.id');
    assert.equal(byGroup.get('vault')?.target, 'vault.id');
    assert.equal(property(declarationBody(networkResources.get('storage')), 'name')?.text, 'storageAccountName');
    assert.equal(property(declarationBody(networkResources.get('vault')), 'name')?.text, 'keyVaultName');

    const subnets = named(property(property(declarationBody(networkModules.get('virtualNetwork')), 'params'), 'subnets'));
    const endpointSubnet = subnets.find((s) => property(s, 'delegation') === undefined);
    assert.ok(endpointSubnet, 'a subnet without delegation holds the endpoints');
    assert.equal(evaluate(property(endpointSubnet, 'privateEndpointNetworkPolicies'), {}, networkVars), 'Disabled');
    const endpointSubnetName = evaluate(property(endpointSubnet, 'name'), {}, networkVars);

    const zoneModules = new Map(modulesOf('private-dns-zone'));
    for (const [group, endpoint] of byGroup) {
      const subnetId = property(endpoint.params, 'subnetResourceId');
      assert.match(subnetId?.text ?? '', /^'\$\{virtualNetwork!?\.outputs\.resourceId\}\/subnets\/\$\{\w+\}'$/, `${group}: on a subnet of the VNet`);
      assert.equal(
        evaluate(subnetId?.descendantsOfType('interpolation')[1]?.namedChildren[0], {}, networkVars),
        endpointSubnetName,
        `${group}: on the endpoint subnet`,
      );

      const configs = named(property(property(endpoint.params, 'privateDnsZoneGroup'), 'privateDnsZoneGroupConfigs'));
      assert.equal(configs.length, 1, `${group}: one DNS zone`);
      const zoneName = /^(\w+)!?\.outputs\.resourceId$/.exec(property(configs[0], 'privateDnsZoneResourceId')?.text ?? '')?.[1] ?? '';
      const zone = zoneModules.get(zoneName);
      assert.ok(zone, `${group}: its zone is a private-dns-zone module of this file (${zoneName})`);
      for (const values of networkScopes) {
        assert.equal(
          holds(declarationCondition(zone), values, networkVars),
          holds(declarationCondition(endpoint.declaration), values, networkVars),
          `${group}: zone and endpoint deployed together`,
        );
      }
      const zoneParams = property(declarationBody(zone), 'params');
      for (const [cloud, suffixes] of Object.entries(clouds)) {
        const values = { 'environment().suffixes.storage': suffixes.storage, 'environment().suffixes.keyvaultDns': suffixes.keyvaultDns };
        const expected = group === 'vault' ? suffixes.vaultZone : `privatelink.${group}.${suffixes.storage}`;
        assert.equal(evaluate(property(zoneParams, 'name'), values, networkVars), expected, `${group} zone in ${cloud}`);
      }
      const links = named(property(zoneParams, 'virtualNetworkLinks'));
      assert.equal(links.length, 1, `${group}: zone linked to one VNet`);
      assert.match(property(links[0], 'virtualNetworkResourceId')?.text ?? '', /^virtualNetwork!?\.outputs\.resourceId$/);
      assert.equal(property(links[0], 'registrationEnabled')?.text, 'false');
    }
    assert.equal(zoneModules.size, 3, 'one zone per endpoint');
  });

  it('integrates the site with a subnet delegated to Microsoft.App/environments exactly when vnetEnabled', () => {
    const subnets = named(property(property(declarationBody(networkModules.get('virtualNetwork')), 'params'), 'subnets'));
    const delegated = subnets.filter((s) => property(s, 'delegation') !== undefined);
    assert.equal(delegated.length, 1, 'one delegated subnet');
    assert.equal(evaluate(property(delegated[0], 'delegation'), {}, networkVars), 'Microsoft.App/environments', 'the delegation Flex Consumption requires');
    const appSubnetName = evaluate(property(delegated[0], 'name'), {}, networkVars);

    const output = network.descendantsOfType('output_declaration').find((o) => o.namedChildren[0]?.text === 'appSubnetId');
    const value = output?.namedChildren.at(-1);
    assert.equal(value?.type, 'ternary_expression');
    assert.equal(evaluate(value, { vnetEnabled: false }, networkVars), '', 'no subnet without vnetEnabled');
    assert.equal(value?.childForFieldName('condition')?.text, 'vnetEnabled');
    const subnetId = value?.childForFieldName('consequence');
    assert.match(subnetId?.text ?? '', /^'\$\{virtualNetwork!?\.outputs\.resourceId\}\/subnets\/\$\{\w+\}'$/);
    assert.equal(evaluate(subnetId?.descendantsOfType('interpolation')[1]?.namedChildren[0], {}, networkVars), appSubnetName, 'the delegated subnet');

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

  it('pins every Azure Verified Module to an exact version and passes it only parameters of that version', () => {
    const used = new Set<string>();
    for (const file of bicepFiles(infra)) {
      const where = relative(root, file);
      for (const m of parseBicep(file).rootNode.descendantsOfType('module_declaration')) {
        const path = declaredType(m);
        if (!/^(br|ts)[:/]/.test(path)) {
          assert.ok(existsSync(join(dirname(file), path)), `${where}: local module ${path} exists`);
          continue;
        }
        const pinned = /^br\/public:(avm\/res\/[a-z0-9-]+\/[a-z0-9-]+):(\d+\.\d+\.\d+)$/.exec(path);
        assert.ok(pinned, `${where}: ${path} is br/public:avm/res/<provider>/<module>:<major.minor.patch>`);
        const key = `${pinned[1] ?? ''}:${pinned[2] ?? ''}`;
        const recorded = verifiedModules[key];
        assert.ok(recorded, `${where}: ${key} is not in the list of checked modules and versions`);
        used.add(key);
        const params = property(declarationBody(m), 'params');
        const name = m.namedChildren[0]?.text ?? '';
        checkShape(params, recorded.params, `${where} ${name}`);
        for (const [key2, shape] of Object.entries(recorded.items ?? {})) {
          named(property(params, key2)).forEach((element, i) => checkShape(element, shape, `${where} ${name}.${key2}[${i}]`));
        }
        for (const [key2, shape] of Object.entries(recorded.object ?? {})) {
          const value = property(params, key2);
          if (value) checkShape(value, shape, `${where} ${name}.${key2}`);
        }
        assert.equal(property(params, 'enableTelemetry')?.text, 'false', `${where} ${name}: no usage telemetry deployment`);
      }
    }
    assert.deepEqual([...used].sort(), Object.keys(verifiedModules).sort(), 'every checked module is used');

    // infra/README.md names each one with its version.
    const readme = readFileSync(join(infra, 'README.md'), 'utf8');
    for (const key of used) {
      const [module = '', version = ''] = key.split(':');
      assert.match(readme, new RegExp(`\`br/public:${module}\` \\| \`${version.replace(/\./g, '\\.')}\``), `README lists ${key}`);
    }
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
      'mcr.microsoft.com',
      'Kept hand-written',
    ]) {
      assert.ok(section.includes(text), `the section mentions ${text}`);
    }
  });
});
