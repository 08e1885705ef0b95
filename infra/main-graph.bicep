// graph-user-sync together with its app registration: main.bicep (as a module) plus, through the
// Microsoft Graph Bicep extension, the application, its service principal, Microsoft Graph's
// User.Read.All application permission granted to it (what admin consent creates) and, in
// managed-identity mode, the federated credential that trusts the app's identity.
//
// A file of its own because the `extension` statement is compiled whenever a file (or a module it
// references) contains it: main.bicep stays free of it, so deploying main.bicep needs neither the
// extension nor the Bicep version it requires. This file needs Bicep 0.36.1 or later (azd 1.17.0
// or later brings one; with az, `az bicep upgrade`), and the deploying user needs
// Application.ReadWrite.All and AppRoleAssignment.ReadWrite.All (e.g. Privileged Role
// Administrator). Deploy it instead of main.bicep: `az deployment group create -f
// infra/main-graph.bicep ...`, or with azd set `infra.module: main-graph` in azure.yaml
// (infra/README.md, "Letting the deployment create the app registration").
//
// Redeploying: the application (keyed by uniqueName), the service principal (by appId) and the
// federated credential (by name) are updated in place. The app role assignment is the one resource
// the extension does not always redeploy cleanly: see grantUserReadAll, and infra/README.md for the
// first-deployment retry ("Not a valid reference update").
targetScope = 'resourceGroup'

extension microsoftGraphV1

// The parameters of main.bicep, declared as there (test/infra.test.ts checks that they match),
// except graphClientId, which is the application created here.

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

@description('Create the User.Read.All app role assignment (admin consent for the app). Set false on a redeploy that fails with "EntitlementGrant entry already exists" (microsoftgraph/msgraph-bicep-types#161): the grant made by the first deployment stays; a deployment never removes it.')
param grantUserReadAll bool = true

// The same token as main.bicep's, so that one environment has one set of names.
var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var microsoftGraphAppId = '00000003-0000-0000-c000-000000000000'
// Microsoft Graph's application permissions User.Read.All, for syncGroupId GroupMember.Read.All, and
// for signInActivity in userFields AuditLog.Read.All (app role ids, the same in every tenant).
var userReadAllRoleId = 'df021288-bdef-4463-88db-98f22de89214'
var groupMemberReadAllRoleId = '98830695-27a2-44f7-8c18-0c3ebc9698f6'
var auditLogReadAllRoleId = 'b0afded3-3588-46d8-8b3d-9842eff778da'
// USER_FIELDS is comma-separated and Graph reads names in any case (docs/settings.md, signInActivity).
var readsSignInActivity = contains(split(toLower(replace(userFields, ' ', '')), ','), 'signinactivity')
var graphRoles = union(
  [{ id: userReadAllRoleId, type: 'Role' }],
  empty(syncGroupId) ? [] : [{ id: groupMemberReadAllRoleId, type: 'Role' }],
  readsSignInActivity ? [{ id: auditLogReadAllRoleId, type: 'Role' }] : []
)

resource application 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: 'graph-user-sync-${resourceToken}'
  displayName: 'graph-user-sync (${environmentName})'
  signInAudience: 'AzureADMyOrg'
  requiredResourceAccess: [
    {
      resourceAppId: microsoftGraphAppId
      resourceAccess: graphRoles
    }
  ]
}

resource servicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: application.appId
}

resource microsoftGraph 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: microsoftGraphAppId
}

// Right after a new service principal, Entra ID may not have replicated it yet: the first
// deployment can fail here once with "Not a valid reference update" (msgraph-bicep-types#193).
// Deploy again: everything before it already exists and is updated in place.
resource userReadAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (grantUserReadAll) {
  appRoleId: userReadAllRoleId
  principalId: servicePrincipal.id
  resourceId: microsoftGraph.id
}

// Reading a group's members app-only needs GroupMember.Read.All besides User.Read.All.
resource groupMemberReadAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (grantUserReadAll && !empty(syncGroupId)) {
  appRoleId: groupMemberReadAllRoleId
  principalId: servicePrincipal.id
  resourceId: microsoftGraph.id
}

// Reading signInActivity (SYNC_MODE=full) needs AuditLog.Read.All besides User.Read.All.
resource auditLogReadAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (grantUserReadAll && readsSignInActivity) {
  appRoleId: auditLogReadAllRoleId
  principalId: servicePrincipal.id
  resourceId: microsoftGraph.id
}

module sync 'main.bicep' = {
  name: 'graph-user-sync'
  params: {
    environmentName: environmentName
    location: location
    nodeVersion: nodeVersion
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    graphTenantId: graphTenantId
    graphCredential: graphCredential
    graphClientSecretName: graphClientSecretName
    graphCertificateName: graphCertificateName
    graphClientSecret: graphClientSecret
    userFields: userFields
    syncSchedule: syncSchedule
    usersQueueName: usersQueueName
    queueMessageEncoding: queueMessageEncoding
    queueSendConcurrency: queueSendConcurrency
    syncStateContainerName: syncStateContainerName
    usersOverflowContainerName: usersOverflowContainerName
    graphRequestTimeoutSeconds: graphRequestTimeoutSeconds
    syncRetryBudgetSeconds: syncRetryBudgetSeconds
    syncMode: syncMode
    syncMaxRemovals: syncMaxRemovals
    syncGroupId: syncGroupId
    userFilter: userFilter
    graphParallelReads: graphParallelReads
    developerPrincipalId: developerPrincipalId
    developerPrincipalType: developerPrincipalType
    grantDeveloperRoles: grantDeveloperRoles
    keyVaultNameSuffix: keyVaultNameSuffix
    vnetEnabled: vnetEnabled
    diagnosticsEnabled: diagnosticsEnabled
    alertEmail: alertEmail
    graphClientId: application.appId
  }
}

// managed-identity mode: the identity's own Entra ID token (audience: the token-exchange audience)
// is accepted as the application's client assertion. The subject is the identity's principal
// (object) id, case-sensitive; the issuer is the identity's tenant's v2.0 issuer; main.bicep
// computes both for the cloud deployed to. The secret and certificate modes get their credential
// after deployment: the extension cannot create client secrets, and a certificate's public part
// comes from Key Vault's data plane (infra/README.md, "Choosing the credential").
resource managedIdentityCredential 'Microsoft.Graph/applications/federatedIdentityCredentials@v1.0' = if (graphCredential == 'managed-identity') {
  name: '${application.uniqueName}/graph-user-sync'
  description: 'The Function App\'s user-assigned managed identity (GRAPH_CREDENTIAL=managed-identity)'
  issuer: sync.outputs.FEDERATED_CREDENTIAL_ISSUER
  subject: sync.outputs.IDENTITY_PRINCIPAL_ID
  audiences: [sync.outputs.FEDERATED_CREDENTIAL_AUDIENCE]
}

// main.bicep's outputs, unchanged (azd reads them from this deployment when it deploys this file).
output AZURE_FUNCTION_NAME string = sync.outputs.AZURE_FUNCTION_NAME
output SERVICE_API_NAME string = sync.outputs.SERVICE_API_NAME
output AZURE_LOCATION string = sync.outputs.AZURE_LOCATION
output AZURE_TENANT_ID string = sync.outputs.AZURE_TENANT_ID
output APPLICATIONINSIGHTS_CONNECTION_STRING string = sync.outputs.APPLICATIONINSIGHTS_CONNECTION_STRING
output GRAPH_CREDENTIAL string = sync.outputs.GRAPH_CREDENTIAL
output KEY_VAULT_URL string = sync.outputs.KEY_VAULT_URL
output KEY_VAULT_NAME string = sync.outputs.KEY_VAULT_NAME
output USERS_QUEUE_URL string = sync.outputs.USERS_QUEUE_URL
output USERS_OVERFLOW_CONTAINER_URL string = sync.outputs.USERS_OVERFLOW_CONTAINER_URL
output IDENTITY_CLIENT_ID string = sync.outputs.IDENTITY_CLIENT_ID
output IDENTITY_PRINCIPAL_ID string = sync.outputs.IDENTITY_PRINCIPAL_ID
output FEDERATED_CREDENTIAL_ISSUER string = sync.outputs.FEDERATED_CREDENTIAL_ISSUER
output FEDERATED_CREDENTIAL_AUDIENCE string = sync.outputs.FEDERATED_CREDENTIAL_AUDIENCE
output GRAPH_CLIENT_ID string = sync.outputs.GRAPH_CLIENT_ID
// The one output that is not main.bicep's: whether this deployment made the app role assignment
// (admin consent), which azure.yaml's postprovision hook reports.
output ADMIN_CONSENT_GRANTED bool = grantUserReadAll
output ADMIN_CONSENT_URL string = sync.outputs.ADMIN_CONSENT_URL
