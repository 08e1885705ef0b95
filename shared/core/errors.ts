import { unreachableCodes } from './network';

/**
 * The one error type the sync throws. Every failure a user can meet is mapped to a stable `code`
 * (exported below, in the style of msal-node's error-code constants) and a message that names the
 * setting or the cause and the fix. The original error is kept as `cause` for diagnostics.
 */
export const SyncErrorCodes = {
  settingsInvalid: 'SETTINGS_INVALID',
  keyVaultForbidden: 'KEY_VAULT_FORBIDDEN',
  keyVaultSecretNotFound: 'KEY_VAULT_SECRET_NOT_FOUND',
  keyVaultAuthFailed: 'KEY_VAULT_AUTH_FAILED',
  keyVaultUnreachable: 'KEY_VAULT_UNREACHABLE',
  keyVaultSecretEmpty: 'KEY_VAULT_SECRET_EMPTY',
  certificateNotFound: 'CERTIFICATE_NOT_FOUND',
  certificateUnusable: 'CERTIFICATE_UNUSABLE',
  certificateRejected: 'CERTIFICATE_REJECTED',
  federatedCredentialMismatch: 'FEDERATED_CREDENTIAL_MISMATCH',
  assertionExpired: 'ASSERTION_EXPIRED',
  managedIdentityFailed: 'MANAGED_IDENTITY_FAILED',
  clientSecretRejected: 'CLIENT_SECRET_REJECTED',
  clientIdUnknown: 'CLIENT_ID_UNKNOWN',
  tenantUnknown: 'TENANT_UNKNOWN',
  scopeInvalid: 'SCOPE_INVALID',
  tokenFailed: 'TOKEN_FAILED',
  graphConsentRequired: 'GRAPH_CONSENT_REQUIRED',
  graphTokenRejected: 'GRAPH_TOKEN_REJECTED',
  graphBadRequest: 'GRAPH_BAD_REQUEST',
  graphRequestFailed: 'GRAPH_REQUEST_FAILED',
  graphUnreachable: 'GRAPH_UNREACHABLE',
  graphResponseInvalid: 'GRAPH_RESPONSE_INVALID',
  graphPageLinkExpired: 'GRAPH_PAGE_LINK_EXPIRED',
  graphDeltaLinkExpired: 'GRAPH_DELTA_LINK_EXPIRED',
  groupNotFound: 'GROUP_NOT_FOUND',
  userFilterRefused: 'USER_FILTER_REFUSED',
  removalsHeld: 'REMOVALS_HELD',
  queueUnreachable: 'QUEUE_UNREACHABLE',
  queueAccessDenied: 'QUEUE_ACCESS_DENIED',
  queueSendFailed: 'QUEUE_SEND_FAILED',
  storageAuthFailed: 'STORAGE_AUTH_FAILED',
  messageTooLarge: 'MESSAGE_TOO_LARGE',
  retryBudgetExhausted: 'RETRY_BUDGET_EXHAUSTED',
  runLocked: 'RUN_LOCKED',
  runInterrupted: 'RUN_INTERRUPTED',
  runStateFailed: 'RUN_STATE_FAILED',
  overflowFailed: 'OVERFLOW_FAILED',
  unexpected: 'UNEXPECTED',
} as const;

export type SyncErrorCode = (typeof SyncErrorCodes)[keyof typeof SyncErrorCodes];

export interface SyncErrorOptions {
  cause?: unknown;
  /** Extra, non-secret facts for logs and tests (setting names, endpoints, counts). */
  details?: Readonly<Record<string, string | number | boolean | undefined>>;
}

export class SyncError extends Error {
  override readonly name: string = 'SyncError';
  readonly code: SyncErrorCode;
  readonly details: Readonly<Record<string, string | number | boolean | undefined>>;

  constructor(code: SyncErrorCode, message: string, options: SyncErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }
}

export function isSyncError(error: unknown): error is SyncError {
  return error instanceof SyncError;
}

/**
 * Removes what must never reach a log from a text that came from an SDK or a server: bearer
 * tokens and other JWTs, SAS signatures, account keys and SAS tokens of connection strings,
 * client secrets and assertions in form bodies, and the managed-identity header. Hand-written:
 * the SDKs' own sanitizers work on their request objects, not on the messages that reach us.
 */
export function scrub(text: string): string {
  return text
    .replace(/\b(Bearer|Basic|SharedKey)\s+[A-Za-z0-9._~+/:=-]+/gi, '$1 [redacted]')
    .replace(/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}(\.[A-Za-z0-9_-]*)?/g, '[redacted JWT]')
    .replace(/\b(sig|client_secret|client_assertion|access_token|refresh_token)=[^&\s"';]+/gi, '$1=[redacted]')
    .replace(/\b(AccountKey|SharedAccessSignature|SharedAccessKey)=[^;\s"']+/gi, '$1=[redacted]')
    .replace(/(x-identity-header|x-ms-identity-header)(["']?\s*[:=]\s*["']?)[^\s"',;]+/gi, '$1$2[redacted]');
}

/** A short, secret-free description of an unknown thrown value, for wrapping. */
export function describeCause(error: unknown): string {
  return scrub(describeUnscrubbed(error));
}

function describeUnscrubbed(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const own = typeof code === 'string' && code !== '' ? `${error.name} ${code}: ${error.message}` : `${error.name}: ${error.message}`;
  // fetch() says only "fetch failed"; the reason (ECONNREFUSED, a certificate error) is its cause.
  const inner = error.cause;
  if (inner instanceof Error && !error.message.includes(inner.message)) {
    const innerCode = (inner as { code?: unknown }).code;
    return `${own} (${typeof innerCode === 'string' ? `${innerCode}: ` : ''}${inner.message})`;
  }
  return own;
}

/** Normalise anything thrown into a SyncError (the boundary's job; see functions/). */
export function toSyncError(error: unknown): SyncError {
  if (error instanceof SyncError) return error;
  return new SyncError(SyncErrorCodes.unexpected, `Unexpected failure: ${describeCause(error)}`, { cause: error });
}

/** True when the error (or its cause chain) is a network-level failure rather than an HTTP answer. */
export function isNetworkError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && unreachableCodes.has(code)) return true;
    const status = (current as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number') return false;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** An @azure/identity failure to get a token (no managed identity, not signed in, refused). */
export function isIdentityError(error: unknown): boolean {
  const name = (error as { name?: unknown }).name;
  return name === 'CredentialUnavailableError' || name === 'AuthenticationError' || name === 'AggregateAuthenticationError';
}

/**
 * The storage account's identity-based connection could not get a token: says so, with the fix,
 * as Key Vault's message does (not "could not create the queue").
 */
export function storageSignInFailed(error: unknown, target: string): SyncError {
  return new SyncError(
    SyncErrorCodes.storageAuthFailed,
    `No identity could get a token for Azure Storage (${target}): in Azure enable the Function App's managed identity and set AzureWebJobsStorage__credential=managedidentity ` +
      `(with AzureWebJobsStorage__clientId for a user-assigned one); on a laptop leave AzureWebJobsStorage__credential unset and sign in with "az login" (DefaultAzureCredential). ` +
      `Cause: ${describeCause(error)}`,
    { cause: error },
  );
}
