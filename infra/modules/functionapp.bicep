// The Function App on the Flex Consumption plan (FC1, Linux), running as a user-assigned managed
// identity that reaches host storage, the deployment package, Key Vault (secret and certificate
// modes) and Application Insights, and that is the Graph credential itself in managed-identity mode.
// Hand-written rather than Azure Verified Module avm/res/web/site: its siteConfig defaults to
// alwaysOn true and ftpsState FtpsOnly, both on the Flex Consumption deprecation list (ARM rejects
// ftpsState on a Flex site), so every use must override siteConfig whole; its app settings go
// through its own parameter instead of the 'appsettings' resource test/infra.test.ts checks for
// drift; and no registry is reachable here to build the result.
param location string
param tags object
param planName string
param functionAppName string
param identityId string
param identityClientId string
@allowed(['22', '24'])
param nodeVersion string
@allowed([512, 2048, 4096])
param instanceMemoryMB int
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int
param deploymentContainerUrl string
param blobEndpoint string
param queueEndpoint string
@description('The account\'s table endpoint: the Functions host writes its diagnostic events there.')
param tableEndpoint string
param applicationInsightsConnectionString string
@description('The app settings the code reads (shared/settings.ts), built in main.bicep.')
param syncSettings object

// Hardening (issue 11): VNet integration (vnetEnabled), the subnet network.bicep delegates to
// Microsoft.App/environments. Empty: not integrated.
@description('Resource id of the subnet the app integrates with; empty for none.')
param virtualNetworkSubnetId string = ''

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: functionAppName
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Only minTlsVersion: Flex Consumption rejects ftpsState, use32BitWorkerProcess,
    // netFrameworkVersion and functionsRuntimeScaleMonitoringEnabled ("site configuration
    // properties ... for Flex Consumption sites is invalid"), and has no FTP(S) endpoint to
    // disable; test/infra.test.ts checks the whole deprecation list.
    siteConfig: { minTlsVersion: '1.2' }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identityId }
        }
      }
      scaleAndConcurrency: { instanceMemoryMB: instanceMemoryMB, maximumInstanceCount: maximumInstanceCount }
      runtime: { name: 'node', version: nodeVersion }
    }
    // Hardening (issue 11): outbound through the VNet (vnetEnabled) to the private endpoints of
    // storage and Key Vault; null leaves the app without VNet integration.
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
  }

  resource appSettings 'config' = {
    name: 'appsettings'
    properties: union(syncSettings, {
      // Host storage for the Functions runtime (timer leases), by identity: no key anywhere. The
      // code reads the same connection: the queue URI for the users queue, the blob URI for the
      // sync-state and users-overflow containers.
      AzureWebJobsStorage__credential: 'managedidentity'
      AzureWebJobsStorage__clientId: identityClientId
      AzureWebJobsStorage__blobServiceUri: blobEndpoint
      AzureWebJobsStorage__queueServiceUri: queueEndpoint
      // Without it the host logs a warning and drops its diagnostic events (the table service of
      // identity-based AzureWebJobsStorage; docs: functions-reference, "Connecting to host storage
      // with an identity"). The sync itself uses no table.
      AzureWebJobsStorage__tableServiceUri: tableEndpoint
      APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
    })
  }
}

output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
