export { createAppTokenProvider, graphTokenCredential, type AppTokenProvider, type AppTokenProviderOptions, type GraphTokenCredential } from './token';
