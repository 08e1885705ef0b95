import { RestError } from '@azure/core-rest-pipeline';

/**
 * Node's and the Azure SDK's codes of failures below HTTP, in one place: those that mean a
 * connection failed (refused, reset, timed out, no route, no name), and the two lists built on
 * them: what counts as "could not reach the endpoint" (causes.ts: also a TLS trust failure, which
 * no retry fixes) and what is worth another attempt (retry.ts: also a socket cut short or a body
 * that did not parse).
 */

const connectionFailureCodes = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'REQUEST_SEND_ERROR'];

/** The endpoint could not be reached at all, or not trusted (isNetworkError). */
export const unreachableCodes: ReadonlySet<string> = new Set([
  ...connectionFailureCodes,
  'UND_ERR_CONNECT_TIMEOUT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
]);

/** An attempt that failed below HTTP and may succeed if tried again (classifyTransient). */
export const transientErrorCodes: ReadonlySet<string> = new Set([
  ...connectionFailureCodes,
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'UND_ERR_SOCKET',
  RestError.PARSE_ERROR,
]);
