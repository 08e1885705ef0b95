// Log Analytics + workspace-based Application Insights, local (key) auth disabled: telemetry is
// accepted only from identities holding Monitoring Metrics Publisher (see rbac.bicep).
param location string
param tags object
param logAnalyticsName string
param applicationInsightsName string

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
    features: { disableLocalAuth: true }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

output applicationInsightsName string = applicationInsights.name
// Not a secret: the connection string only says where to send; with local auth disabled the
// sender must also present an Entra token (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
output connectionString string = applicationInsights.properties.ConnectionString

// Hardening (issue 11): where diagnostics.bicep sends the vault's and the storage account's logs.
output logAnalyticsWorkspaceId string = logAnalytics.id
