export { createClientCredential, type ClientCredential, type CurrentClientAuth } from './client-credential';
export { createManagedIdentityCredential } from './managed-identity';
export { createClientSecretSource, createSecretCredential } from './secret';
