import { unreachableCodes } from './network';

/**
 * What the messages say about a cause, and what kind of failure it is: `scrub` and
 * `describeCause` turn an SDK's or a server's error into a short, secret-free text for a message;
 * `isNetworkError` and `isIdentityError` tell the mappings (Key Vault, queue, run state) which
 * message applies.
 */

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
