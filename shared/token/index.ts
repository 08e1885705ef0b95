export { createAppTokenProvider, graphTokenCredential, type AppTokenProvider, type AppTokenProviderOptions, type GraphTokenCredential } from './token';
export { TokenErrorCodes, TokenErrorMessages, createTokenError, type TokenErrorCode } from './errors';
