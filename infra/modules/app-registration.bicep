// Optional (createAppRegistration=true): the app registration, its service principal, and
// Microsoft Graph's User.Read.All application permission granted to it: the app role assignment
// that admin consent would create. The deploying user needs Application.ReadWrite.All and
// AppRoleAssignment.ReadWrite.All (e.g. Privileged Role Administrator or Global Administrator).
// Client secrets cannot be created by the Graph Bicep extension: add one afterwards (infra/README.md).
extension microsoftGraphV1

param uniqueName string
param displayName string

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
