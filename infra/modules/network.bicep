// Optional private networking (vnetEnabled), the way Microsoft's Flex Consumption quickstart does
// it (Azure-Samples/functions-quickstart-typescript-azd, infra/app/vnet.bicep and
// infra/app/storage-PrivateEndpoint.bicep):
// - a VNet with two subnets: one for private endpoints, one delegated to Microsoft.App/environments
//   (the delegation Flex Consumption requires) that the Function App integrates with
//   (functionapp.bicep, virtualNetworkSubnetId);
// - private endpoints for the storage account's blob service (host storage, the Flex Consumption
//   deployment container, the sync-state and users-overflow containers) and queue service (the
//   users queue), and, in the secret and certificate modes where a vault exists, for the vault;
// - a private DNS zone per endpoint (privatelink.blob / privatelink.queue / privatelink.vaultcore,
//   with this cloud's suffixes), linked to the VNet, so that the app resolves the usual host names
//   (<account>.blob.core.windows.net, <vault>.vault.azure.net) to the private addresses.
// storage.bicep and keyvault.bicep disable public network access when vnetEnabled is true: these
// endpoints are then the only way in. The Flex Consumption deployment service writes the package
// to the deployment container from the app's integrated subnet, so deployment keeps working
// (infra/README.md, "Hardening").
//
// main.bicep deploys this module in every configuration; each resource and module here is
// conditional on vnetEnabled, so with vnetEnabled false it deploys nothing.
//
// Azure Verified Modules, pinned to exact versions: the versions Microsoft's quickstart pins for
// the same resources. Every parameter passed below was checked against the module's main.bicep at
// its release tag in Azure/bicep-registry-modules (avm/res/network/<module>/<version>);
// test/infra-hardening.test.ts keeps that list of parameter names.
// - avm/res/network/virtual-network 0.6.1: Microsoft.Network/virtualNetworks@2024-01-01, subnets as
//   child deployments (subnets@2024-01-01, delegation as a service name)
// - avm/res/network/private-endpoint 0.11.0: Microsoft.Network/privateEndpoints@2024-05-01 and its
//   privateDnsZoneGroups@2024-05-01
// - avm/res/network/private-dns-zone 0.7.1: Microsoft.Network/privateDnsZones@2020-06-01 and
//   virtualNetworkLinks@2024-06-01
// Newer versions exist (virtual-network 0.10.x, private-endpoint 0.12.x, private-dns-zone 0.8.x,
// on 2025 API versions); moving to them needs a `bicep build` against the registry, which no
// machine of this project's CI reaches. enableTelemetry is off: by default an AVM module also
// deploys an empty "46d3xbcp.*" deployment that reports its use to Microsoft.
param location string
param tags object

@description('Deploy the VNet, the private endpoints and the private DNS zones. False: nothing here is deployed.')
param vnetEnabled bool

param vnetName string

@description('The storage account whose blob and queue services get private endpoints.')
param storageAccountName string

@description('Whether the vault exists (GRAPH_CREDENTIAL secret or certificate): only then does it get a private endpoint.')
param keyVaultDeployed bool

@description('Name of the vault of the secret and certificate modes (not deployed in managed-identity mode).')
param keyVaultName string

@description('Address space of the VNet. Change it if the VNet is to be peered with networks that use 10.0.0.0/16.')
param vnetAddressPrefix string = '10.0.0.0/16'

@description('Subnet of the private endpoints, inside vnetAddressPrefix.')
param privateEndpointSubnetPrefix string = '10.0.1.0/24'

@description('Subnet the Function App integrates with (delegated to Microsoft.App/environments), inside vnetAddressPrefix.')
param appSubnetPrefix string = '10.0.2.0/24'

var privateEndpointSubnetName = 'private-endpoints'
var appSubnetName = 'app'

// Private DNS zones of this cloud: environment().suffixes.storage is core.windows.net in the public
// cloud (core.usgovcloudapi.net, core.chinacloudapi.cn); keyvaultDns is .vault.azure.net
// (.vault.usgovcloudapi.net, .vault.azure.cn), whose private link zone is privatelink.vaultcore.<same>.
var blobDnsZoneName = 'privatelink.blob.${environment().suffixes.storage}'
var queueDnsZoneName = 'privatelink.queue.${environment().suffixes.storage}'
var vaultDnsZoneName = 'privatelink${replace(environment().suffixes.keyvaultDns, 'vault', 'vaultcore')}'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

module virtualNetwork 'br/public:avm/res/network/virtual-network:0.6.1' = if (vnetEnabled) {
  name: 'network-vnet'
  params: {
    name: vnetName
    location: location
    tags: tags
    addressPrefixes: [vnetAddressPrefix]
    subnets: [
      {
        name: privateEndpointSubnetName
        addressPrefix: privateEndpointSubnetPrefix
        privateEndpointNetworkPolicies: 'Disabled'
        privateLinkServiceNetworkPolicies: 'Enabled'
      }
      {
        name: appSubnetName
        addressPrefix: appSubnetPrefix
        privateEndpointNetworkPolicies: 'Disabled'
        privateLinkServiceNetworkPolicies: 'Enabled'
        delegation: 'Microsoft.App/environments'
      }
    ]
    enableTelemetry: false
  }
}

// One zone per private endpoint kind, each linked to the VNet (no auto-registration: the endpoints'
// DNS zone groups write their A records).
module blobDnsZone 'br/public:avm/res/network/private-dns-zone:0.7.1' = if (vnetEnabled) {
  name: 'network-dns-blob'
  params: {
    name: blobDnsZoneName
    tags: tags
    virtualNetworkLinks: [
      {
        name: '${vnetName}-link'
        virtualNetworkResourceId: virtualNetwork!.outputs.resourceId
        registrationEnabled: false
      }
    ]
    enableTelemetry: false
  }
}

module queueDnsZone 'br/public:avm/res/network/private-dns-zone:0.7.1' = if (vnetEnabled) {
  name: 'network-dns-queue'
  params: {
    name: queueDnsZoneName
    tags: tags
    virtualNetworkLinks: [
      {
        name: '${vnetName}-link'
        virtualNetworkResourceId: virtualNetwork!.outputs.resourceId
        registrationEnabled: false
      }
    ]
    enableTelemetry: false
  }
}

module vaultDnsZone 'br/public:avm/res/network/private-dns-zone:0.7.1' = if (vnetEnabled && keyVaultDeployed) {
  name: 'network-dns-vault'
  params: {
    name: vaultDnsZoneName
    tags: tags
    virtualNetworkLinks: [
      {
        name: '${vnetName}-link'
        virtualNetworkResourceId: virtualNetwork!.outputs.resourceId
        registrationEnabled: false
      }
    ]
    enableTelemetry: false
  }
}

// The blob endpoint carries the Functions host's storage (timer leases), the Flex Consumption
// deployment container and the two sync containers.
module blobPrivateEndpoint 'br/public:avm/res/network/private-endpoint:0.11.0' = if (vnetEnabled) {
  name: 'network-pe-blob'
  params: {
    name: 'pe-${storageAccountName}-blob'
    location: location
    tags: tags
    subnetResourceId: '${virtualNetwork!.outputs.resourceId}/subnets/${privateEndpointSubnetName}'
    privateLinkServiceConnections: [
      {
        name: 'blob'
        properties: {
          privateLinkServiceId: storage.id
          groupIds: ['blob']
        }
      }
    ]
    privateDnsZoneGroup: {
      privateDnsZoneGroupConfigs: [{ privateDnsZoneResourceId: blobDnsZone!.outputs.resourceId }]
    }
    enableTelemetry: false
  }
}

// The queue endpoint carries the users queue.
module queuePrivateEndpoint 'br/public:avm/res/network/private-endpoint:0.11.0' = if (vnetEnabled) {
  name: 'network-pe-queue'
  params: {
    name: 'pe-${storageAccountName}-queue'
    location: location
    tags: tags
    subnetResourceId: '${virtualNetwork!.outputs.resourceId}/subnets/${privateEndpointSubnetName}'
    privateLinkServiceConnections: [
      {
        name: 'queue'
        properties: {
          privateLinkServiceId: storage.id
          groupIds: ['queue']
        }
      }
    ]
    privateDnsZoneGroup: {
      privateDnsZoneGroupConfigs: [{ privateDnsZoneResourceId: queueDnsZone!.outputs.resourceId }]
    }
    enableTelemetry: false
  }
}

// The vault's endpoint, secret and certificate modes only (managed-identity mode has no vault).
module vaultPrivateEndpoint 'br/public:avm/res/network/private-endpoint:0.11.0' = if (vnetEnabled && keyVaultDeployed) {
  name: 'network-pe-vault'
  params: {
    name: 'pe-${keyVaultName}'
    location: location
    tags: tags
    subnetResourceId: '${virtualNetwork!.outputs.resourceId}/subnets/${privateEndpointSubnetName}'
    privateLinkServiceConnections: [
      {
        name: 'vault'
        properties: {
          privateLinkServiceId: vault.id
          groupIds: ['vault']
        }
      }
    ]
    privateDnsZoneGroup: {
      privateDnsZoneGroupConfigs: [{ privateDnsZoneResourceId: vaultDnsZone!.outputs.resourceId }]
    }
    enableTelemetry: false
  }
}

// For functionapp.bicep's virtualNetworkSubnetId: empty when vnetEnabled is false (not integrated).
output appSubnetId string = vnetEnabled ? '${virtualNetwork!.outputs.resourceId}/subnets/${appSubnetName}' : ''
output virtualNetworkName string = vnetEnabled ? vnetName : ''
