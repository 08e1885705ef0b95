// Host storage (timer leases, deployment package), the users queue, and the sync's two blob
// containers (run checkpoint + lock, claim-check overflow). No shared keys: every caller
// authenticates with Entra ID, so no connection string with a key can exist.
// Hand-written rather than Azure Verified Module avm/res/storage/storage-account: its defaults
// (0.33.0) differ from what this template sets: allowSharedKeyAccess true, defaultToOAuthAuthentication
// false, skuName Standard_GRS, and without networkAcls a firewall that denies by default, which
// blocks the Flex Consumption deployment container unless the app is in a VNet. Every property would
// have to be restated through it, with no registry here to build the result; and test/infra.test.ts
// checks these properties and the containers on this resource directly.
param location string
param tags object
param storageAccountName string
param deploymentContainerName string
param usersQueueName string
@description('SYNC_STATE_CONTAINER: one checkpoint blob per queue (<queue>.json), leased as the run lock.')
param syncStateContainerName string
@description('USERS_OVERFLOW_CONTAINER: one blob per user message too large for the queue (claim check).')
param usersOverflowContainerName string

// Hardening (issue 11): with vnetEnabled the account takes no traffic from public networks; the
// app reaches it through the private endpoints of network.bicep.
@description('Disable public network access: the account is reached only through the private endpoints of network.bicep.')
param vnetEnabled bool = false

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    defaultToOAuthAuthentication: true
    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'
    networkAcls: { defaultAction: vnetEnabled ? 'Deny' : 'Allow', bypass: vnetEnabled ? 'None' : 'AzureServices' }
  }

  resource blobServices 'blobServices' = {
    name: 'default'
    resource deploymentContainer 'containers' = {
      name: deploymentContainerName
      properties: { publicAccess: 'None' }
    }
    // Created here, like the queue: the app's role on each (rbac.bicep) is scoped to the container
    // itself, which must exist first, and the app need not create containers.
    resource syncStateContainer 'containers' = {
      name: syncStateContainerName
      properties: { publicAccess: 'None' }
    }
    resource usersOverflowContainer 'containers' = {
      name: usersOverflowContainerName
      properties: { publicAccess: 'None' }
    }
  }

  resource queueServices 'queueServices' = {
    name: 'default'
    // Created here so that the app only needs to send to it (see rbac.bicep).
    resource usersQueue 'queues' = {
      name: usersQueueName
    }
  }
}

output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
// For the host's own diagnostic events (AzureWebJobsStorage__tableServiceUri); the sync itself uses no table.
output tableEndpoint string = storage.properties.primaryEndpoints.table
output usersQueueUrl string = '${storage.properties.primaryEndpoints.queue}${usersQueueName}'
output usersOverflowContainerUrl string = '${storage.properties.primaryEndpoints.blob}${usersOverflowContainerName}'
output deploymentContainerUrl string = '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
