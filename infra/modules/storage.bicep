// Host storage (timer leases, deployment package) and the users queue. No shared keys: every
// caller authenticates with Entra ID, so no connection string with a key can exist.
param location string
param tags object
param storageAccountName string
param deploymentContainerName string
param usersQueueName string

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
output deploymentContainerUrl string = '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
