/**
 * The one error type the sync throws. Every failure a user can meet is mapped to a stable `code`
 * (exported below, in the style of msal-node's error-code constants) and a message that names the
 * setting or the cause and the fix. The original error is kept as `cause` for diagnostics.
 *
 * Where codes and messages live (msal-node's model: a codes module, a message table, a factory):
 * `SyncErrorCodes` below is the one full public list of codes. Each code belongs to one family,
 * the `errors.ts` of the folder that owns the failure (core, settings, storage, credential, token,
 * graph, queue, state, run): it lists the family's codes (`XxxErrorCodes`, taken from this list),
 * a message table (`XxxErrorMessages`: one builder per code, taking that message's typed
 * parameters; a code with several messages takes a `problem` that picks one) and a factory
 * `createXxxError(code, params, { cause, details })`. Nothing else builds a SyncError (lint:
 * no-restricted-syntax in eslint.config.mjs). To add a code: add it here, to the family's codes
 * and to its message table (the compiler asks for the builder: the table `satisfies`
 * ErrorMessages), then throw `createXxxError(...)`; test/unit/core/errors.test.ts checks that the
 * families together hold exactly the codes of this list (less `RetiredErrorCodes`).
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
  clientSecretExpired: 'CLIENT_SECRET_EXPIRED',
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

/**
 * Codes kept in the public list that nothing throws any more, so that no family has a message for
 * them: MESSAGE_TOO_LARGE went with the claim check (a message over the queue's 64 KiB goes to a
 * blob; one too large even as a claim check is OVERFLOW_FAILED).
 */
export const RetiredErrorCodes = {
  messageTooLarge: SyncErrorCodes.messageTooLarge,
} as const;

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

/** A message builder: the text of one code, from that message's parameters. */
export type MessageBuilder = (params: never) => string;

/** A family's message table: a builder for every one of its codes, and nothing else. */
export type ErrorMessages<Code extends SyncErrorCode> = { readonly [C in Code]: MessageBuilder };

/** What a builder of a message without parameters takes: `{}`. */
export type NoParams = Readonly<Record<string, never>>;

/** The parameters the builder of `code` takes in the table `Messages`. */
export type MessageParams<Messages extends Readonly<Record<string, MessageBuilder>>, Code extends keyof Messages> = Messages[Code] extends () => string
  ? NoParams
  : Parameters<Messages[Code]>[0];

/** The text of `code`, from its family's message table (what every factory calls). */
export function messageOf<Messages extends Readonly<Record<string, MessageBuilder>>, Code extends keyof Messages & string>(
  messages: Messages,
  code: Code,
  params: MessageParams<Messages, Code>,
): string {
  const build = messages[code] as (params: MessageParams<Messages, Code>) => string;
  return build(params);
}
