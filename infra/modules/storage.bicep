// Host storage (timer leases, deployment package), the users queue, and the sync's two blob
// containers (run checkpoint + lock, claim-check overflow). No shared keys: every caller
// authenticates with Entra ID, so no connection string with a key can exist.
param location string
param tags object
param storageAccountName string
param deploymentContainerName string
param usersQueueName string
@description('SYNC_STATE_CONTAINER: one checkpoint blob per queue (<queue>.json), leased as the run lock.')
param syncStateContainerName string
@description('USERS_OVERFLOW_CONTAINER: one blob per user message too large for the queue (claim check).')
param usersOverflowContainerName string

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
    publicNetworkAccess: 'Enabled'
    networkAcls: { defaultAction: 'Allow', bypass: 'AzureServices' }
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
output usersQueueUrl string = '${storage.properties.primaryEndpoints.queue}${usersQueueName}'
output usersOverflowContainerUrl string = '${storage.properties.primaryEndpoints.blob}${usersOverflowContainerName}'
output deploymentContainerUrl string = '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
