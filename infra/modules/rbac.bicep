// Role assignments, least privilege. Names are deterministic guid()s of scope, principal and role,
// so a redeployment updates rather than duplicates them.
param storageAccountName string
param usersQueueName string
param keyVaultName string
param applicationInsightsName string
param appPrincipalId string
@description('Object id of a developer (or deploying principal) to grant the same data access; empty for none.')
param developerPrincipalId string
@allowed(['User', 'ServicePrincipal', 'Group'])
param developerPrincipalType string

// Built-in role definition ids (the same in every tenant and cloud).
var roles = {
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
  resource queueServices 'queueServices' existing = {
    name: 'default'
    resource usersQueue 'queues' existing = {
      name: usersQueueName
    }
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Key Vault Secrets User on the vault: read secret values (the client secret), nothing else.
resource appSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appPrincipalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
  }
}

// Storage Blob Data Owner on the account: what the Functions host needs for identity-based
// AzureWebJobsStorage (timer singleton leases) and the Flex Consumption deployment container.
resource appBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
  }
}

// Storage Queue Data Message Sender on the users queue only: the code sends messages there.
// It also calls createIfNotExists, which needs queues/write (Storage Queue Data Contributor);
// instead, this template creates the queue (storage.bicep) and the code treats a 403 on create
// as "the queue is provisioned for me", so the app can add messages to one queue and do nothing else.
resource appQueueSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::queueServices::usersQueue.id, appPrincipalId, roles.storageQueueDataMessageSender)
  scope: storage::queueServices::usersQueue
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageSender)
  }
}

// Monitoring Metrics Publisher on Application Insights: send telemetry with an Entra token,
// since the component has local (instrumentation key) auth disabled.
resource appMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, appPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
  }
}

// Optional, for a developer running `npm run sync` from a laptop against these resources:
// Key Vault Secrets Officer on the vault (read the secret, and set it when rotating) ...
resource developerSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(developerPrincipalId)) {
  name: guid(vault.id, developerPrincipalId, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    principalId: developerPrincipalId
    principalType: developerPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
  }
}

// ... and Storage Queue Data Contributor on the users queue (send, and peek/receive to check what was sent).
resource developerQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(developerPrincipalId)) {
  name: guid(storage::queueServices::usersQueue.id, developerPrincipalId, roles.storageQueueDataContributor)
  scope: storage::queueServices::usersQueue
  properties: {
    principalId: developerPrincipalId
    principalType: developerPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
  }
}
