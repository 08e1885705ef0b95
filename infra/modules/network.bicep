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
// Native resources rather than the Azure Verified Modules the quickstart uses
// (avm/res/network/virtual-network, private-endpoint, private-dns-zone): a module from the public
// registry (br/public:) has to be restored before `bicep build` can type-check anything that uses
// it, and no machine of this project reaches that registry; written out here, every property is
// checked by the compiler offline (test/infra/bicep-build.test.ts). What the modules did that
// matters here is reproduced: subnets inline in the VNet (a redeploy keeps them), the app subnet's
// delegation to Microsoft.App/environments, one DNS zone group per endpoint, a VNet link per zone
// without auto-registration. (The modules' usage telemetry deployment is simply not there.)
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

resource virtualNetwork 'Microsoft.Network/virtualNetworks@2024-05-01' = if (vnetEnabled) {
  name: vnetName
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: [vnetAddressPrefix] }
    subnets: [
      {
        name: privateEndpointSubnetName
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          privateEndpointNetworkPolicies: 'Disabled'
          privateLinkServiceNetworkPolicies: 'Enabled'
        }
      }
      {
        name: appSubnetName
        properties: {
          addressPrefix: appSubnetPrefix
          privateEndpointNetworkPolicies: 'Disabled'
          privateLinkServiceNetworkPolicies: 'Enabled'
          delegations: [{ name: 'flex-consumption', properties: { serviceName: 'Microsoft.App/environments' } }]
        }
      }
    ]
  }

  resource privateEndpointSubnet 'subnets' existing = {
    name: privateEndpointSubnetName
  }

  resource appSubnet 'subnets' existing = {
    name: appSubnetName
  }
}

// One zone per private endpoint kind (location global), each linked to the VNet (no
// auto-registration: the endpoints' DNS zone groups write their A records).
resource blobDnsZone 'Microsoft.Network/privateDnsZones@2024-06-01' = if (vnetEnabled) {
  name: blobDnsZoneName
  location: 'global'
  tags: tags

  resource link 'virtualNetworkLinks' = {
    name: '${vnetName}-link'
    location: 'global'
    tags: tags
    properties: { virtualNetwork: { id: virtualNetwork.id }, registrationEnabled: false }
  }
}

resource queueDnsZone 'Microsoft.Network/privateDnsZones@2024-06-01' = if (vnetEnabled) {
  name: queueDnsZoneName
  location: 'global'
  tags: tags

  resource link 'virtualNetworkLinks' = {
    name: '${vnetName}-link'
    location: 'global'
    tags: tags
    properties: { virtualNetwork: { id: virtualNetwork.id }, registrationEnabled: false }
  }
}

resource vaultDnsZone 'Microsoft.Network/privateDnsZones@2024-06-01' = if (vnetEnabled && keyVaultDeployed) {
  name: vaultDnsZoneName
  location: 'global'
  tags: tags

  resource link 'virtualNetworkLinks' = {
    name: '${vnetName}-link'
    location: 'global'
    tags: tags
    properties: { virtualNetwork: { id: virtualNetwork.id }, registrationEnabled: false }
  }
}

// The blob endpoint carries the Functions host's storage (timer leases), the Flex Consumption
// deployment container and the two sync containers.
resource blobPrivateEndpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = if (vnetEnabled) {
  name: 'pe-${storageAccountName}-blob'
  location: location
  tags: tags
  properties: {
    subnet: { id: virtualNetwork::privateEndpointSubnet.id }
    privateLinkServiceConnections: [{ name: 'blob', properties: { privateLinkServiceId: storage.id, groupIds: ['blob'] } }]
  }

  resource zoneGroup 'privateDnsZoneGroups' = {
    name: 'default'
    properties: { privateDnsZoneConfigs: [{ name: 'blob', properties: { privateDnsZoneId: blobDnsZone.id } }] }
  }
}

// The queue endpoint carries the users queue.
resource queuePrivateEndpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = if (vnetEnabled) {
  name: 'pe-${storageAccountName}-queue'
  location: location
  tags: tags
  properties: {
    subnet: { id: virtualNetwork::privateEndpointSubnet.id }
    privateLinkServiceConnections: [{ name: 'queue', properties: { privateLinkServiceId: storage.id, groupIds: ['queue'] } }]
  }

  resource zoneGroup 'privateDnsZoneGroups' = {
    name: 'default'
    properties: { privateDnsZoneConfigs: [{ name: 'queue', properties: { privateDnsZoneId: queueDnsZone.id } }] }
  }
}

// The vault's endpoint, secret and certificate modes only (managed-identity mode has no vault).
resource vaultPrivateEndpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = if (vnetEnabled && keyVaultDeployed) {
  name: 'pe-${keyVaultName}'
  location: location
  tags: tags
  properties: {
    subnet: { id: virtualNetwork::privateEndpointSubnet.id }
    privateLinkServiceConnections: [{ name: 'vault', properties: { privateLinkServiceId: vault.id, groupIds: ['vault'] } }]
  }

  resource zoneGroup 'privateDnsZoneGroups' = {
    name: 'default'
    properties: { privateDnsZoneConfigs: [{ name: 'vault', properties: { privateDnsZoneId: vaultDnsZone.id } }] }
  }
}

// For functionapp.bicep's virtualNetworkSubnetId: empty when vnetEnabled is false (not integrated).
output appSubnetId string = vnetEnabled ? virtualNetwork::appSubnet.id : ''
output virtualNetworkName string = vnetEnabled ? vnetName : ''
