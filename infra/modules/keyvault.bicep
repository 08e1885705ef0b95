// The vault holding the app registration's credential: the client secret (GRAPH_CREDENTIAL=secret)
// or the certificate with its exportable key (certificate); not deployed in managed-identity mode.
// RBAC authorization (no access policies), soft delete and purge protection. The secret is created
// only when a value is given; it never appears in an output. The certificate is created after
// deployment (infra/README.md): creating one is a data-plane operation, which plain Bicep cannot do.
// Hand-written rather than Azure Verified Module avm/res/key-vault/vault: its defaults (0.14.0) differ
// (sku premium; publicNetworkAccess and the firewall derived from its own private endpoint and
// networkAcls parameters), the secret would move into its secrets array, and no registry is
// reachable here to build the result; test/infra.test.ts checks these properties directly.
param location string
param tags object
param keyVaultName string
param tenantId string
param secretName string
@secure()
param secretValue string

// Hardening (issue 11): with vnetEnabled the vault takes no traffic from public networks; the app
// reaches it through the private endpoint of network.bicep. (ARM still writes secretValue: that
// write goes through Key Vault's control plane, which the network rules do not filter.)
@description('Disable public network access: the vault is reached only through the private endpoint of network.bicep.')
param vnetEnabled bool = false

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
    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'
    networkAcls: { defaultAction: vnetEnabled ? 'Deny' : 'Allow', bypass: 'AzureServices' }
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
