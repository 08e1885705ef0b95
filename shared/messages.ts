import { createHash } from 'node:crypto';
import type { MessageEncoding } from './settings';
import type { DirectoryUser, UserPropertyValue } from './users';

/**
 * Step 4a: one queue message per user. The body is JSON with a schema version, so the downstream
 * notifier can evolve with it; base64 by default, which is what a queue-triggered Azure Function
 * expects unless its host.json sets messageEncoding to none.
 *
 * Each message carries a stable `messageId`, a hash of the run id and the user id: a page resent
 * after a failure, in the same run or in the run that resumes it, produces the same ids, so a
 * consumer drops replays by remembering the ids it has handled.
 */

export const messageSchemaVersion = 1;

/** Azure Storage queue message limit, measured on the encoded body. */
export const maxQueueMessageBytes = 64 * 1024;

export interface RunInfo {
  readonly runId: string;
  readonly runAt: Date;
}

/** Where the whole message is when it was too large for the queue (the claim-check pattern). */
export interface OverflowReference {
  /** The blob's URL (without credentials): read it with the same storage identity. */
  readonly url: string;
  readonly container: string;
  readonly blob: string;
  /** Size of the blob's JSON in bytes. */
  readonly bytes: number;
}

export interface UserMessage {
  readonly schemaVersion: typeof messageSchemaVersion;
  /** Stable per run and user: the same after a resend. */
  readonly messageId: string;
  readonly runId: string;
  /** ISO 8601, UTC: when the run started. */
  readonly runAt: string;
  /** The selected properties; with `overflow`, only the id (the rest is in the blob). */
  readonly user: Readonly<Record<string, UserPropertyValue>>;
  readonly overflow?: OverflowReference;
}

export function messageIdOf(runId: string, userId: string): string {
  return createHash('sha256').update(`${runId}\n${userId}`).digest('hex').slice(0, 32);
}

export function buildUserMessage(user: DirectoryUser, run: RunInfo): UserMessage {
  return { schemaVersion: messageSchemaVersion, messageId: messageIdOf(run.runId, user.id), runId: run.runId, runAt: run.runAt.toISOString(), user: user.properties };
}

/** The queue message that points at the blob holding `message` whole. */
export function overflowMessage(message: UserMessage, reference: OverflowReference): UserMessage {
  return { schemaVersion: message.schemaVersion, messageId: message.messageId, runId: message.runId, runAt: message.runAt, user: { id: message.user['id'] ?? null }, overflow: reference };
}

/** The encoded body, or undefined when it would be over the queue's limit (the caller then uses a claim check). */
export function encodeMessage(message: UserMessage, encoding: MessageEncoding): string | undefined {
  const json = JSON.stringify(message);
  const text = encoding === 'base64' ? Buffer.from(json, 'utf8').toString('base64') : json;
  // The service counts the body as sent: base64 as is, plain text XML-escaped by the SDK.
  const size = Buffer.byteLength(encoding === 'base64' ? text : xmlEscape(text), 'utf8');
  return size > maxQueueMessageBytes ? undefined : text;
}

/** Reverses encodeMessage (what a consumer does; used by the local tools and tests). */
export function decodeMessage(text: string, encoding: MessageEncoding): UserMessage {
  const json = encoding === 'base64' ? Buffer.from(text, 'base64').toString('utf8') : text;
  return JSON.parse(json) as UserMessage;
}

function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}
