export type { ClientAuth, ClientCredential, CurrentClientAuth, TokenRequestContext } from './base';
export { createClientCredential, type ClientCredentialOptions } from './client-credential';
export { createManagedIdentityCredential } from './managed-identity';
export { createClientSecretSource, createSecretCredential } from './secret';
export { CredentialErrorCodes, CredentialErrorMessages, createCredentialError, type CertificateUnusableReason, type CredentialErrorCode } from './errors';
