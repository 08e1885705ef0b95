// Role assignments, least privilege. Names are deterministic guid()s of scope, principal and role,
// so a redeployment updates rather than duplicates them.
param storageAccountName string
param usersQueueName string
param syncStateContainerName string
param usersOverflowContainerName string
@allowed(['secret', 'certificate', 'managed-identity'])
@description('GRAPH_CREDENTIAL: which Key Vault roles the app needs (none in managed-identity mode, where the vault is not deployed).')
param graphCredential string
@description('Name of the vault of the secret and certificate modes. In managed-identity mode no vault is deployed and no assignment here is made on it.')
param keyVaultName string
param applicationInsightsName string
param appPrincipalId string
@description('Object id of a developer (or deploying principal) to grant data access for running the sync from a laptop; empty for none.')
param developerPrincipalId string
@allowed(['User', 'ServicePrincipal', 'Group'])
param developerPrincipalType string

// Built-in role definition ids (the same in every tenant and cloud).
var roles = {
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  keyVaultCertificateUser: 'db79e9a7-68ee-4b58-9aeb-b90e7c24fcba'
  keyVaultCertificatesOfficer: 'a4417e6f-fecd-4de8-b567-7b0420556985'
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
  resource blobServices 'blobServices' existing = {
    name: 'default'
    resource syncStateContainer 'containers' existing = {
      name: syncStateContainerName
    }
    resource usersOverflowContainer 'containers' existing = {
      name: usersOverflowContainerName
    }
  }
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

// Which credential the app reads from the vault: a client secret (secret), or a certificate and
// the secret of the same name that holds its exportable private key (certificate).
var usesKeyVault = graphCredential == 'secret' || graphCredential == 'certificate'

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Key Vault Secrets User on the vault (secret and certificate modes): read secret values, nothing
// else: the client secret, or the certificate's private key, which Key Vault exposes only as the
// secret of the certificate's name.
resource appSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (usesKeyVault) {
  name: guid(vault.id, appPrincipalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
  }
}

// Key Vault Certificate User on the vault (certificate mode): read the certificate itself (its
// public part and thumbprint, sent in the client assertion's header); the key comes through the
// secret above.
resource appCertificateUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (graphCredential == 'certificate') {
  name: guid(vault.id, appPrincipalId, roles.keyVaultCertificateUser)
  scope: vault
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultCertificateUser)
  }
}

// Storage Blob Data Owner on the account: what the Functions host needs for identity-based
// AzureWebJobsStorage (timer singleton leases and schedule status in azure-webjobs-hosts, a
// container the host creates itself) and the Flex Consumption deployment container. The one blob
// role on the whole account (test/infra.test.ts names it as the exception). It also covers the
// sync-state and users-overflow containers: the container-scoped grants below are what the sync
// code needs, and they bound the app's access only once this one is narrowed too (to the host's
// and the deployment containers), a change of its own that needs a deployed host to verify.
resource appBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
  }
}

// Storage Table Data Contributor on the account: the Functions host's diagnostic events
// (AzureWebJobsStorage__tableServiceUri, in tables the host creates itself, so the account scope).
// The sync code uses no table.
resource appTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.storageTableDataContributor)
  scope: storage
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
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

// Storage Blob Data Contributor on the sync-state container only: the code reads and writes the
// run checkpoint (<queue>.json) and takes a blob lease on it as the run lock (acquire, renew,
// release). Lease Blob is authorized by blobs/write, like writing. The other Storage blob data
// roles are Storage Blob Data Reader (read only), Storage Blob Delegator (user delegation keys
// only) and Storage Blob Data Owner (everything, plus POSIX ACLs); built-in roles outside Storage
// that include blobs/write (Avere Contributor/Operator) carry far more. So no built-in role
// narrower than this one allows write + lease. It also allows blob delete, which the app does not
// need; only a custom role (blobs/read + blobs/write) would drop that.
resource appStateBlobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobServices::syncStateContainer.id, appPrincipalId, roles.storageBlobDataContributor)
  scope: storage::blobServices::syncStateContainer
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
  }
}

// Storage Blob Data Contributor on the users-overflow container only: the code writes one blob per
// user message too large for the queue (claim check). Writing needs blobs/write, and no built-in role
// narrower than this one has it (see above). The downstream consumer reads these blobs with its
// own identity (Storage Blob Data Reader on this container), which this template does not create.
resource appOverflowBlobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobServices::usersOverflowContainer.id, appPrincipalId, roles.storageBlobDataContributor)
  scope: storage::blobServices::usersOverflowContainer
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
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
// Key Vault Secrets Officer on the vault, secret and certificate modes (read the secret or the
// certificate's key, and set the secret when rotating) ...
resource developerSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (usesKeyVault && !empty(developerPrincipalId)) {
  name: guid(vault.id, developerPrincipalId, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    principalId: developerPrincipalId
    principalType: developerPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
  }
}

// ... and Key Vault Certificates Officer on the vault, certificate mode (create the certificate,
// download its public part for the app registration, renew it) ...
resource developerCertificatesOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (graphCredential == 'certificate' && !empty(developerPrincipalId)) {
  name: guid(vault.id, developerPrincipalId, roles.keyVaultCertificatesOfficer)
  scope: vault
  properties: {
    principalId: developerPrincipalId
    principalType: developerPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultCertificatesOfficer)
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

// ... and Storage Blob Data Contributor on the sync-state and users-overflow containers (a run from
// a laptop reads and writes the checkpoint, takes its lease and writes overflow blobs; and lets you
// read them while debugging).
resource developerStateBlobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(developerPrincipalId)) {
  name: guid(storage::blobServices::syncStateContainer.id, developerPrincipalId, roles.storageBlobDataContributor)
  scope: storage::blobServices::syncStateContainer
  properties: {
    principalId: developerPrincipalId
    principalType: developerPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
  }
}

// (Storage Blob Data Contributor, the second of the two containers.)
resource developerOverflowBlobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(developerPrincipalId)) {
  name: guid(storage::blobServices::usersOverflowContainer.id, developerPrincipalId, roles.storageBlobDataContributor)
  scope: storage::blobServices::usersOverflowContainer
  properties: {
    principalId: developerPrincipalId
    principalType: developerPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
  }
}
