// Optional (createAppRegistration=true): the app registration, its service principal, and
// Microsoft Graph's User.Read.All application permission granted to it: the app role assignment
// that admin consent would create. The deploying user needs Application.ReadWrite.All and
// AppRoleAssignment.ReadWrite.All (e.g. Privileged Role Administrator or Global Administrator).
// The app's credential depends on graphCredential:
// - managed-identity: a federated identity credential trusting the user-assigned identity, below;
//   nothing to add afterwards, no secret anywhere.
// - secret / certificate: the Graph Bicep extension cannot create client secrets, and a
//   certificate's public part comes from Key Vault's data plane: add either afterwards
//   (infra/README.md, "Choosing the credential").
extension microsoftGraphV1

param uniqueName string
param displayName string

@allowed(['secret', 'certificate', 'managed-identity'])
@description('GRAPH_CREDENTIAL of the app: managed-identity adds the federated identity credential.')
param graphCredential string

@description('Principal (object) id of the app\'s user-assigned managed identity: the subject of the federated credential.')
param identityPrincipalId string

@description('Issuer of the identity\'s tokens: <login endpoint><tenant id>/v2.0.')
param federatedCredentialIssuer string

@description('Token-exchange audience of the cloud (api://AzureADTokenExchange in the public cloud).')
param federatedCredentialAudience string

var microsoftGraphAppId = '00000003-0000-0000-c000-000000000000'
// Microsoft Graph's application permission User.Read.All (app role id, the same in every tenant).
var userReadAllRoleId = 'df021288-bdef-4463-88db-98f22de89214'

resource application 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  signInAudience: 'AzureADMyOrg'
  requiredResourceAccess: [
    {
      resourceAppId: microsoftGraphAppId
      resourceAccess: [{ id: userReadAllRoleId, type: 'Role' }]
    }
  ]
}

// managed-identity mode: the identity's own Entra ID token (audience: the token-exchange audience)
// is accepted as the application's client assertion. The subject is the identity's principal
// (object) id, case-sensitive; the issuer is the identity's tenant's v2.0 issuer.
resource managedIdentityCredential 'Microsoft.Graph/applications/federatedIdentityCredentials@v1.0' = if (graphCredential == 'managed-identity') {
  name: '${application.uniqueName}/graph-user-sync'
  description: 'The Function App\'s user-assigned managed identity (GRAPH_CREDENTIAL=managed-identity)'
  issuer: federatedCredentialIssuer
  subject: identityPrincipalId
  audiences: [federatedCredentialAudience]
}

resource servicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: application.appId
}

resource microsoftGraph 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: microsoftGraphAppId
}

resource userReadAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {
  appRoleId: userReadAllRoleId
  principalId: servicePrincipal.id
  resourceId: microsoftGraph.id
}

output clientId string = application.appId
