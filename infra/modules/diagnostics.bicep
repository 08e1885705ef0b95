// Diagnostic settings into the Log Analytics workspace of monitoring.bicep (diagnosticsEnabled):
// - the vault (secret and certificate modes): category group audit, which for Key Vault is the
//   AuditEvent log: every data-plane call (who read which secret or certificate, from where,
//   allowed or denied) and management call; lands in the AzureDiagnostics table.
// - the storage account's blob and queue services: StorageRead, StorageWrite, StorageDelete; land
//   in StorageBlobLogs and StorageQueueLogs (caller identity, operation, object, status).
// Hand-written rather than an Azure Verified Module: a diagnostic setting is an extension resource
// scoped to the resource it watches. The AVM storage-account and key-vault modules take them as a
// parameter (diagnosticSettings) of the resource itself, which this template keeps hand-written
// (see storage.bicep, keyvault.bicep); the standalone avm/res/insights/diagnostic-setting module
// exports a subscription's activity log only.
// main.bicep deploys this module in every configuration; each setting is conditional.
@description('Deploy the diagnostic settings. False: nothing here is deployed.')
param diagnosticsEnabled bool

@description('Resource id of the Log Analytics workspace (monitoring.bicep) the logs go to.')
param logAnalyticsWorkspaceId string

param storageAccountName string

@description('Whether the vault exists (GRAPH_CREDENTIAL secret or certificate): only then does it get a diagnostic setting.')
param keyVaultDeployed bool

@description('Name of the vault of the secret and certificate modes (not deployed in managed-identity mode).')
param keyVaultName string

var settingName = 'to-log-analytics'

// Reads, writes and deletes of blobs and queue messages: the app's checkpoint, lease and overflow
// blobs, its queue sends, the host's timer leases, and anyone else's access.
var storageLogs = [
  { category: 'StorageRead', enabled: true }
  { category: 'StorageWrite', enabled: true }
  { category: 'StorageDelete', enabled: true }
]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
  resource blobServices 'blobServices' existing = {
    name: 'default'
  }
  resource queueServices 'queueServices' existing = {
    name: 'default'
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource vaultDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (diagnosticsEnabled && keyVaultDeployed) {
  name: settingName
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [{ categoryGroup: 'audit', enabled: true }]
  }
}

resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (diagnosticsEnabled) {
  name: settingName
  scope: storage::blobServices
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: storageLogs
  }
}

resource queueDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (diagnosticsEnabled) {
  name: settingName
  scope: storage::queueServices
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: storageLogs
  }
}
