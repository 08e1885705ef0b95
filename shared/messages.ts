import { SyncError, SyncErrorCodes } from './errors';
import type { MessageEncoding } from './settings';
import type { DirectoryUser, UserPropertyValue } from './users';

/**
 * Step 4a: one queue message per user. The body is JSON with a schema version, so the downstream
 * notifier can evolve with it; base64 by default, which is what a queue-triggered Azure Function
 * expects unless its host.json sets messageEncoding to none.
 */

export const messageSchemaVersion = 1;

/** Azure Storage queue message limit, measured on the encoded body. */
export const maxQueueMessageBytes = 64 * 1024;

export interface RunInfo {
  readonly runId: string;
  readonly runAt: Date;
}

export interface UserMessage {
  readonly schemaVersion: typeof messageSchemaVersion;
  readonly runId: string;
  /** ISO 8601, UTC: when the run started. */
  readonly runAt: string;
  readonly user: Readonly<Record<string, UserPropertyValue>>;
}

export function buildUserMessage(user: DirectoryUser, run: RunInfo): UserMessage {
  return { schemaVersion: messageSchemaVersion, runId: run.runId, runAt: run.runAt.toISOString(), user: user.properties };
}

export function encodeMessage(message: UserMessage, encoding: MessageEncoding): string {
  const json = JSON.stringify(message);
  const text = encoding === 'base64' ? Buffer.from(json, 'utf8').toString('base64') : json;
  // The service counts the body as sent: base64 as is, plain text XML-escaped by the SDK.
  const size = Buffer.byteLength(encoding === 'base64' ? text : xmlEscape(text), 'utf8');
  if (size > maxQueueMessageBytes) {
    throw new SyncError(
      SyncErrorCodes.messageTooLarge,
      `The message for user ${message.user['id'] as string} is ${size} bytes encoded, over the queue's ${maxQueueMessageBytes}-byte limit: select fewer or smaller properties in USER_FIELDS.`,
      { details: { userId: message.user['id'] as string, size } },
    );
  }
  return text;
}

/** Reverses encodeMessage (what a consumer does; used by the local tools and tests). */
export function decodeMessage(text: string, encoding: MessageEncoding): UserMessage {
  const json = encoding === 'base64' ? Buffer.from(text, 'base64').toString('utf8') : text;
  return JSON.parse(json) as UserMessage;
}

function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}
