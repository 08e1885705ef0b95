// graph-user-sync: a timer-triggered Function App that reads the directory's users from
// Microsoft Graph and writes one message per user to a Storage queue.
// Deploy with `azd up`, or `az deployment group create` (see infra/README.md). This file uses no
// Bicep extension: it needs the client id of an existing app registration (graphClientId).
// main-graph.bicep deploys this file as a module together with the app registration (Microsoft
// Graph Bicep extension), for those who want the deployment to create it.
targetScope = 'resourceGroup'

@minLength(1)
@maxLength(64)
@description('Name of this environment (azd: AZURE_ENV_NAME, letters, digits and - ( ) _ .). Resource names take its first 20 characters, lower-cased, with every character other than a letter, digit or hyphen made a hyphen (Microsoft.Web names allow only those); the tag azd-env-name keeps it as given.')
param environmentName string = 'graphsync'

@minLength(1)
@description('Region for every resource; it must offer the Flex Consumption plan: main.bicep stops with the list (that of Microsoft\'s quickstart, Azure-Samples/functions-quickstart-typescript-azd) otherwise; `az functionapp list-flexconsumption-locations` gives the current one. azd passes AZURE_LOCATION.')
@metadata({ azd: { type: 'location' } })
param location string = resourceGroup().location

@allowed(['22', '24'])
@description('Node.js version of the Functions worker.')
param nodeVersion string = '22'

@allowed([512, 2048, 4096])
@description('Flex Consumption instance memory (MB).')
param instanceMemoryMB int = 2048

@minValue(40)
@maxValue(1000)
@description('Flex Consumption maximum instance count (a timer runs on one instance at a time).')
param maximumInstanceCount int = 40

@description('GRAPH_TENANT_ID: the tenant whose users are read. Default: the tenant deployed to.')
param graphTenantId string = tenant().tenantId

@description('GRAPH_CLIENT_ID: the client id of the app registration the app signs in as. Required here (azd: `azd env set GRAPH_CLIENT_ID <id>`; az: `-p graphClientId=<id>`); the deployment stops with a message when it is empty. main-graph.bicep creates the app registration and passes its id.')
param graphClientId string = ''

@allowed(['secret', 'certificate', 'managed-identity'])
@description('GRAPH_CREDENTIAL: how the app authenticates to Microsoft Graph. secret: a client secret in Key Vault; certificate: a Key Vault certificate with an exportable key; managed-identity: the user-assigned identity as a federated credential of the app registration (no Key Vault). See infra/README.md, "Choosing the credential".')
param graphCredential string = 'secret'

@description('GRAPH_CLIENT_SECRET_NAME (secret mode only): name of the Key Vault secret holding the client secret value.')
param graphClientSecretName string = 'graph-client-secret'

@description('GRAPH_CERTIFICATE_NAME (certificate mode only): name of the Key Vault certificate (exportable key) the app signs its client assertions with. Created after deployment (infra/README.md).')
param graphCertificateName string = 'graph-sync-cert'

@secure()
@description('Optional, secret mode only: the client secret value, stored in Key Vault under graphClientSecretName. Leave empty to set it yourself.')
param graphClientSecret string = ''

@description('USER_FIELDS: Graph user properties to select. With signInActivity (SYNC_MODE=full only), the app also needs AuditLog.Read.All (main-graph.bicep grants it).')
param userFields string = 'id,displayName,mail,userPrincipalName,accountEnabled'

@description('SYNC_SCHEDULE: six-field NCRONTAB, UTC.')
param syncSchedule string = '0 0 6 * * *'

@minLength(3)
@maxLength(63)
@description('USERS_QUEUE_NAME: the queue the messages go to.')
param usersQueueName string = 'users'

@allowed(['base64', 'none'])
@description('USERS_QUEUE_MESSAGE_ENCODING: base64 is what a queue-triggered Function expects by default.')
param queueMessageEncoding string = 'base64'

@minValue(1)
@maxValue(256)
@description('QUEUE_SEND_CONCURRENCY: queue sends in flight.')
param queueSendConcurrency int = 32

@minLength(3)
@maxLength(63)
@description('SYNC_STATE_CONTAINER: blob container holding the run checkpoint (<queue>.json, one per queue), leased as the run lock.')
param syncStateContainerName string = 'sync-state'

@minLength(3)
@maxLength(63)
@description('USERS_OVERFLOW_CONTAINER: blob container for user messages too large for the queue (claim check); the downstream consumer reads them.')
param usersOverflowContainerName string = 'users-overflow'

@minValue(1)
@description('GRAPH_REQUEST_TIMEOUT_SECONDS: time limit of one Microsoft Graph request.')
param graphRequestTimeoutSeconds int = 100

@minValue(1)
@description('SYNC_RETRY_BUDGET_SECONDS: total time one run may spend retrying.')
param syncRetryBudgetSeconds int = 600

@allowed(['delta', 'full'])
@description('SYNC_MODE: delta (changes only after a first full run) or full (every user, every run).')
param syncMode string = 'delta'

@description('SYNC_MAX_REMOVALS: a delta run with more removals than this (a count, a percentage of the last full snapshot, or both: the lesser) sends none and fails until allowed once.')
param syncMaxRemovals string = '500,5%'

@description('SYNC_GROUP_ID: sync only the members of this group (object id; nested groups included). Empty: every user. The app then also needs the application permission GroupMember.Read.All (main-graph.bicep grants it).')
param syncGroupId string = ''

@minValue(1)
@maxValue(16)
@description('GRAPH_PARALLEL_READS: full mode reads /users in ranges of userPrincipalName, this many at once (1: one sequential walk, the fewest requests). Raise it for large tenants: README, Performance.')
param graphParallelReads int = 1

@description('USER_FILTER: an OData $filter on /users, e.g. accountEnabled eq true. SYNC_MODE=full only (delta mode refuses it: use syncGroupId). Empty: none.')
param userFilter string = ''

@description('Object id of a developer to grant data access (Key Vault Secrets Officer in secret and certificate modes, Key Vault Certificates Officer in certificate mode, Storage Queue Data Contributor on the queue, Storage Blob Data Contributor on the two sync containers) for setting the credential and running the sync from a laptop. azd passes AZURE_PRINCIPAL_ID (the signed-in principal); empty means the principal running the deployment (deployer().objectId). grantDeveloperRoles=false grants nobody.')
param developerPrincipalId string = ''

@allowed(['User', 'ServicePrincipal', 'Group'])
@description('Type of developerPrincipalId. azd (1.17.1 or later) passes AZURE_PRINCIPAL_TYPE: User, or ServicePrincipal when it is logged in as one (CI). With az as a service principal, pass ServicePrincipal.')
param developerPrincipalType string = 'User'

@description('Grant the developer (developerPrincipalId, or the deploying principal) the data roles above. false: none, e.g. for a production deployment from a pipeline that needs no data access.')
param grantDeveloperRoles bool = true

@maxLength(8)
@description('Appended to the Key Vault name (kv-<token><suffix>; letters and digits). Purge protection keeps a deleted vault\'s name for 90 days: after `azd down` or deleting the resource group, redeploying the same environment fails until you set a new suffix (or recover the old vault, infra/README.md "Redeploying after azd down").')
param keyVaultNameSuffix string = ''

// --- Hardening (issue 11; infra/README.md, "Hardening") ---------------------------------------

@description('Private networking: a VNet the Function App integrates with, private endpoints (and private DNS zones) for the storage account\'s blob and queue services and, in secret and certificate modes, the vault, and public network access disabled on the account and the vault. Off by default: the endpoints and zones cost about US$15-25 a month, and data-plane calls from a laptop (az keyvault secret set, npm run sync) then need network access to the VNet.')
param vnetEnabled bool = false

@description('Diagnostic settings into the Log Analytics workspace: Key Vault audit events, and the storage account\'s blob and queue read, write and delete logs.')
param diagnosticsEnabled bool = true

// --- Monitoring (issue 12; infra/README.md, "Monitoring") --------------------------------------

@description('E-mail address the alert on a failed or missing daily run (no successful run in 26 hours) goes to, through an action group created for it. Empty: the alert rule is still created and shows in Monitor > Alerts, notifying no one. azd: ALERT_EMAIL.')
param alertEmail string = ''

// Regions with Flex Consumption, as Microsoft's quickstart lists them (its main.bicep @allowed).
// Checked when the deployment starts, before anything is created; a default of
// resourceGroup().location stays possible, which @allowed would not allow.
var flexConsumptionRegions = [
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'eastus2euap'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
]
var appLocation = contains(flexConsumptionRegions, toLower(replace(location, ' ', '')))
  ? location
  : fail('location \'${location}\' has no Flex Consumption plan. Choose one of: ${join(flexConsumptionRegions, ', ')} (azd env set AZURE_LOCATION <region>, or az ... -l/-p location=<region>; `az functionapp list-flexconsumption-locations` lists the current ones).')

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var tags = { 'azd-env-name': environmentName, app: 'graph-user-sync' }
// The environment's name as resource names take it: azd allows [a-zA-Z0-9-()_.]{1,64}, Microsoft.Web
// names letters, digits and hyphens only. 20 characters keep every name within its limit (the
// Function App's 60, the plan's 40: 'plan-' + 20 + '-' + 13).
var nameChars = 'abcdefghijklmnopqrstuvwxyz0123456789-'
var lowerEnvironmentName = toLower(take(environmentName, 20))
var environmentStem = join(
  map(range(0, length(lowerEnvironmentName)), i => contains(nameChars, substring(lowerEnvironmentName, i, 1)) ? substring(lowerEnvironmentName, i, 1) : '-'),
  ''
)
var functionAppName = 'func-${environmentStem}-${resourceToken}'
var deploymentContainerName = 'app-package-${take(resourceToken, 10)}'
// Key Vault names take letters, digits and hyphens; the suffix follows the token, so letters and digits.
var suffixRefused = filter(range(0, length(keyVaultNameSuffix)), i => !contains('abcdefghijklmnopqrstuvwxyz0123456789', toLower(substring(keyVaultNameSuffix, i, 1))))
var keyVaultName = empty(suffixRefused)
  ? 'kv-${resourceToken}${keyVaultNameSuffix}'
  : fail('keyVaultNameSuffix (KEY_VAULT_NAME_SUFFIX) may hold letters and digits only, up to 8: e.g. azd env set KEY_VAULT_NAME_SUFFIX 2, or az ... -p keyVaultNameSuffix=2.')
// Known when the deployment starts (not read from a module's outputs), so that the modules that
// name these resources in role assignments and endpoints give What-If exact resource ids
// (linter rule what-if-short-circuiting); each such module waits for the one that creates them.
var storageAccountName = 'st${resourceToken}'
var applicationInsightsName = 'appi-${environmentStem}-${resourceToken}'

// Only the secret and certificate modes read Key Vault; managed-identity mode has no vault at all.
var usesKeyVault = graphCredential == 'secret' || graphCredential == 'certificate'

// Graph endpoint of the cloud deployed to (environment().graph is the retired Azure AD Graph).
var graphBaseUrl = environment().name == 'AzureUSGovernment'
  ? 'https://graph.microsoft.us'
  : environment().name == 'AzureChinaCloud' ? 'https://microsoftgraph.chinacloudapi.cn' : 'https://graph.microsoft.com'

// managed-identity mode: the app registration's federated credential trusts tokens that Entra ID
// issues to the identity (subject: its principal id) for the token-exchange audience of this
// cloud. loginEndpoint ends with '/'. The app derives the same audience from AUTHORITY_HOST, so
// GRAPH_FEDERATED_AUDIENCE is not set. (The inner ternary is parenthesized for tree-sitter-bicep,
// which test/infra.test.ts parses with and which misreads an unparenthesized nested one.)
var federatedCredentialIssuer = '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
var federatedCredentialAudience = environment().name == 'AzureUSGovernment'
  ? 'api://AzureADTokenExchangeUSGov'
  : (environment().name == 'AzureChinaCloud' ? 'api://AzureADTokenExchangeChina' : 'api://AzureADTokenExchange')

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${environmentStem}-${resourceToken}'
  location: appLocation
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: appLocation
    tags: tags
    logAnalyticsName: 'log-${environmentStem}-${resourceToken}'
    applicationInsightsName: applicationInsightsName
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: appLocation
    tags: tags
    storageAccountName: storageAccountName
    deploymentContainerName: deploymentContainerName
    usersQueueName: usersQueueName
    syncStateContainerName: syncStateContainerName
    usersOverflowContainerName: usersOverflowContainerName
    vnetEnabled: vnetEnabled
  }
}

module keyVault 'modules/keyvault.bicep' = if (usesKeyVault) {
  name: 'keyvault'
  params: {
    location: appLocation
    tags: tags
    keyVaultName: keyVaultName
    tenantId: tenant().tenantId
    secretName: graphClientSecretName
    // Only the secret mode stores a client secret.
    secretValue: graphCredential == 'secret' ? graphClientSecret : ''
    vnetEnabled: vnetEnabled
  }
}

// Without a client id the app cannot sign in: stop the deployment (before anything is created)
// with what to do, rather than deploy an app that fails every run.
var graphClientIdSetting = empty(graphClientId)
  ? fail('graphClientId is empty: give the client id of the app registration (azd env set GRAPH_CLIENT_ID <client-id>, or az ... -p graphClientId=<client-id>), or deploy infra/main-graph.bicep, which creates the app registration (infra/README.md).')
  : graphClientId

// The developer who gets data access: the given principal, else whoever runs the deployment.
var developerPrincipal = grantDeveloperRoles ? (empty(developerPrincipalId) ? deployer().objectId : developerPrincipalId) : ''

// Exactly the settings shared/settings.ts reads (the drift test in test/infra.test.ts checks it);
// the host-storage settings (AzureWebJobsStorage__*, which the code reads too) and the Application
// Insights ones are added in functionapp.bicep. SYNC_ALLOWED_HOSTS is deliberately not set: it is
// an escape hatch, empty by default, for an operator to set by hand. The credential settings
// depend on GRAPH_CREDENTIAL: the app refuses a setting that belongs to another mode, so each is
// set only in its own mode.
var syncSettings = union(
  {
    GRAPH_TENANT_ID: graphTenantId
    GRAPH_CLIENT_ID: graphClientIdSetting
    GRAPH_CREDENTIAL: graphCredential
    AUTHORITY_HOST: environment().authentication.loginEndpoint
    GRAPH_BASE_URL: graphBaseUrl
    USER_FIELDS: userFields
    SYNC_SCHEDULE: syncSchedule
    USERS_QUEUE_NAME: usersQueueName
    USERS_QUEUE_MESSAGE_ENCODING: queueMessageEncoding
    QUEUE_SEND_CONCURRENCY: string(queueSendConcurrency)
    SYNC_STATE_CONTAINER: syncStateContainerName
    USERS_OVERFLOW_CONTAINER: usersOverflowContainerName
    GRAPH_REQUEST_TIMEOUT_SECONDS: string(graphRequestTimeoutSeconds)
    SYNC_RETRY_BUDGET_SECONDS: string(syncRetryBudgetSeconds)
    SYNC_MODE: syncMode
    SYNC_MAX_REMOVALS: syncMaxRemovals
    SYNC_GROUP_ID: syncGroupId
    USER_FILTER: userFilter
    GRAPH_PARALLEL_READS: string(graphParallelReads)
    AZURE_CLIENT_ID: identity.properties.clientId
  },
  usesKeyVault ? { KEY_VAULT_URL: keyVault!.outputs.uri } : {},
  graphCredential == 'secret' ? { GRAPH_CLIENT_SECRET_NAME: graphClientSecretName } : {},
  graphCredential == 'certificate' ? { GRAPH_CERTIFICATE_NAME: graphCertificateName } : {}
)

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  // The identity's roles first (host storage, the deployment container, the vault, telemetry): a
  // site that starts before them gets 403s. Role assignments still take minutes to take effect
  // after they exist, so a first `azd deploy` may need a re-run (infra/README.md).
  dependsOn: [rbac]
  params: {
    location: appLocation
    tags: tags
    planName: 'plan-${environmentStem}-${resourceToken}'
    functionAppName: functionAppName
    identityId: identity.id
    identityClientId: identity.properties.clientId
    nodeVersion: nodeVersion
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    blobEndpoint: storage.outputs.blobEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    syncSettings: syncSettings
    virtualNetworkSubnetId: network.outputs.appSubnetId
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  // The vault, the storage account (its queue and containers) and Application Insights are named
  // here rather than read from the modules' outputs, so the dependencies are explicit.
  dependsOn: [keyVault, storage, monitoring]
  params: {
    storageAccountName: storageAccountName
    usersQueueName: usersQueueName
    syncStateContainerName: syncStateContainerName
    usersOverflowContainerName: usersOverflowContainerName
    graphCredential: graphCredential
    keyVaultName: keyVaultName
    applicationInsightsName: applicationInsightsName
    // The role assignments' names are guid()s of the principal id, known only once the identity
    // exists: What-If cannot predict them exactly, and that is accepted (renaming them would make a
    // redeploy of an existing environment fail with RoleAssignmentExists).
    #disable-next-line what-if-short-circuiting
    appPrincipalId: identity.properties.principalId
    developerPrincipalId: developerPrincipal
    developerPrincipalType: developerPrincipalType
  }
}

// --- Hardening (issue 11) ----------------------------------------------------------------------
// Both modules are deployed in every configuration (with vnetEnabled / diagnosticsEnabled false
// they contain nothing to deploy), so main.bicep's structure does not depend on them. Like rbac,
// they name the vault rather than read the conditional keyVault module's outputs, and wait for it.

// The VNet, the private endpoints and their DNS zones (vnetEnabled). The Function App reads the
// integration subnet from its outputs, so it is created after the endpoints exist.
module network 'modules/network.bicep' = {
  name: 'network'
  dependsOn: [keyVault, storage]
  params: {
    location: appLocation
    tags: tags
    vnetEnabled: vnetEnabled
    vnetName: 'vnet-${environmentStem}-${resourceToken}'
    storageAccountName: storageAccountName
    keyVaultDeployed: usesKeyVault
    keyVaultName: keyVaultName
  }
}

// Key Vault audit events and the storage account's blob and queue logs, into Log Analytics.
module diagnostics 'modules/diagnostics.bicep' = {
  name: 'diagnostics'
  dependsOn: [keyVault, storage]
  params: {
    diagnosticsEnabled: diagnosticsEnabled
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    storageAccountName: storageAccountName
    keyVaultDeployed: usesKeyVault
    keyVaultName: keyVaultName
  }
}

// The alert on the daily run: no successful run in 26 hours (modules/alerts.bicep).
module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    location: appLocation
    tags: tags
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    alertRuleName: 'alert-missed-run-${environmentStem}-${resourceToken}'
    actionGroupName: 'ag-${environmentStem}-${resourceToken}'
    alertEmail: alertEmail
  }
}

// No secrets here: names, URLs and the identity's ids only. The Key Vault outputs are empty in
// managed-identity mode (no vault). The first five are the outputs azd's Functions templates
// emit (Azure-Samples/functions-quickstart-typescript-azd); azd stores every output in the
// environment (`azd env get-value AZURE_FUNCTION_NAME`). The connection string is no secret:
// with local auth disabled a sender also needs an Entra token.
output AZURE_FUNCTION_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output AZURE_LOCATION string = appLocation
output AZURE_TENANT_ID string = tenant().tenantId
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.connectionString
output GRAPH_CREDENTIAL string = graphCredential
output KEY_VAULT_URL string = usesKeyVault ? keyVault!.outputs.uri : ''
output KEY_VAULT_NAME string = usesKeyVault ? keyVault!.outputs.name : ''
output USERS_QUEUE_URL string = storage.outputs.usersQueueUrl
output USERS_OVERFLOW_CONTAINER_URL string = storage.outputs.usersOverflowContainerUrl
output IDENTITY_CLIENT_ID string = identity.properties.clientId
// For the federated credential of managed-identity mode when you create it yourself
// (with your own app registration; main-graph.bicep creates it from these): its subject, issuer
// and audience (infra/README.md).
output IDENTITY_PRINCIPAL_ID string = identity.properties.principalId
output FEDERATED_CREDENTIAL_ISSUER string = federatedCredentialIssuer
output FEDERATED_CREDENTIAL_AUDIENCE string = federatedCredentialAudience
output GRAPH_CLIENT_ID string = graphClientIdSetting
// main.bicep grants nothing in Entra ID; main-graph.bicep outputs its own app role assignment here.
output ADMIN_CONSENT_GRANTED bool = false
output ADMIN_CONSENT_URL string = '${environment().authentication.loginEndpoint}${graphTenantId}/adminconsent?client_id=${graphClientIdSetting}'
