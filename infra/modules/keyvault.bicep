// The vault holding the app registration's credential: the client secret (GRAPH_CREDENTIAL=secret)
// or the certificate with its exportable key (certificate); not deployed in managed-identity mode.
// RBAC authorization (no access policies), soft delete and purge protection. The secret is created
// only when a value is given; it never appears in an output. The certificate is created after
// deployment (infra/README.md): creating one is a data-plane operation, which plain Bicep cannot do.
param location string
param tags object
param keyVaultName string
param tenantId string
param secretName string
@secure()
param secretValue string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: { defaultAction: 'Allow', bypass: 'AzureServices' }
  }
}

resource clientSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(secretValue)) {
  parent: vault
  name: secretName
  properties: {
    value: secretValue
    contentType: 'Entra ID client secret value'
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
