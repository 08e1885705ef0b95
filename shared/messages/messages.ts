import { createHash } from 'node:crypto';
import type { MessageEncoding } from '../settings';
import type { DirectoryUser, RemovedUser, UserPropertyValue } from '../graph';

/**
 * The queue messages, schema version 2 (schema/message.v2.schema.json). One message per user
 * and change, and one marker at the end of a snapshot. The body is JSON; base64 by default, which
 * is what a queue-triggered Azure Function expects unless its host.json sets messageEncoding to none.
 *
 * - `user.snapshot`: a user as it is (full mode, the first delta run, a resync). A snapshot run
 *   ends with `snapshot.completed`, which says how many users the snapshot holds: a consumer that
 *   has handled that many snapshot messages of the run can drop every user the snapshot left out.
 * - `user.upserted`: delta, a new, changed or restored user, the whole record as Graph returns it.
 * - `user.removed`: delta, `@removed` with its reason (`changed` = soft-deleted, restorable for 30
 *   days; `deleted` = gone), or `outOfScope`: no longer a member of SYNC_GROUP_ID.
 *
 * `fields` lists the selected properties present in `user`: a selected property missing from it
 * was never set on the user (Graph leaves those out of delta answers), which is not the same as
 * a property that arrived as null.
 *
 * `messageId` is a hash of the run id, the type and the content: a page resent after a failure,
 * in the same run or in the run that resumes it, produces the same ids, so a consumer drops
 * replays by remembering the ids it has handled, while two different states of one user in one
 * run never share an id. `sequence` orders the messages of a run (a later change of the same user
 * has a higher one; queues do not keep order): apply a user's message only when its (runAt,
 * sequence) is after the last one applied for that user.
 */

export const messageSchemaVersion = 2;

export const MessageTypes = {
  snapshot: 'user.snapshot',
  upserted: 'user.upserted',
  removed: 'user.removed',
  snapshotCompleted: 'snapshot.completed',
} as const;

export type MessageType = (typeof MessageTypes)[keyof typeof MessageTypes];

/** Why a run sends a snapshot. */
export type SnapshotReason = 'full-mode' | 'first-delta' | 'requested' | 'resync';

/** Azure Storage queue message limit, measured on the encoded body. */
export const maxQueueMessageBytes = 64 * 1024;

/** Entries per walk in `sequence` (walk × this + position): far above any directory. */
export const sequenceWalkStride = 1_000_000_000;

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

interface MessageBase {
  readonly schemaVersion: typeof messageSchemaVersion;
  readonly type: MessageType;
  /** Stable per run and content: the same after a resend. */
  readonly messageId: string;
  readonly runId: string;
  /** ISO 8601, UTC: when the run started. */
  readonly runAt: string;
  /** Orders the run's messages: walk × 1e9 + position in the walk. */
  readonly sequence: number;
}

export interface UserStateMessage extends MessageBase {
  readonly type: typeof MessageTypes.snapshot | typeof MessageTypes.upserted;
  /** The selected properties Graph returned; with `overflow`, only the id (the rest is in the blob). */
  readonly user: Readonly<Record<string, UserPropertyValue>>;
  /** The selected properties present in the user (in the blob's copy, with `overflow`). */
  readonly fields: readonly string[];
  readonly overflow?: OverflowReference;
}

export interface UserRemovedMessage extends MessageBase {
  readonly type: typeof MessageTypes.removed;
  readonly user: { readonly id: string };
  readonly removed: { readonly reason: string };
}

export interface SnapshotCompletedMessage extends MessageBase {
  readonly type: typeof MessageTypes.snapshotCompleted;
  /** `users`: the distinct users the snapshot sent (type user.snapshot, this runId). */
  readonly snapshot: { readonly users: number; readonly reason: SnapshotReason };
}

export type UserMessage = UserStateMessage | UserRemovedMessage;
export type SyncMessage = UserMessage | SnapshotCompletedMessage;

export function sequenceOf(walk: number, position: number): number {
  return walk * sequenceWalkStride + position;
}

function hashId(runId: string, type: MessageType, content: unknown): string {
  return createHash('sha256')
    .update(`${runId}\n${type}\n${JSON.stringify(content)}`)
    .digest('hex')
    .slice(0, 32);
}

/** The id a message's content gives (what a consumer or a test can check; not for a claim-check message, whose user is in the blob). */
export function messageIdOf(message: SyncMessage): string {
  switch (message.type) {
    case MessageTypes.removed:
      return hashId(message.runId, message.type, { id: message.user.id, removed: message.removed });
    case MessageTypes.snapshotCompleted:
      return hashId(message.runId, message.type, message.snapshot);
    default:
      return hashId(message.runId, message.type, message.user);
  }
}

export function buildUserMessage(user: DirectoryUser, type: UserStateMessage['type'], run: RunInfo, sequence: number): UserStateMessage {
  return {
    schemaVersion: messageSchemaVersion,
    type,
    messageId: hashId(run.runId, type, user.properties),
    runId: run.runId,
    runAt: run.runAt.toISOString(),
    sequence,
    user: user.properties,
    fields: Object.keys(user.properties),
  };
}

export function buildRemovedMessage(removed: RemovedUser, run: RunInfo, sequence: number): UserRemovedMessage {
  const reason = { reason: removed.reason };
  return {
    schemaVersion: messageSchemaVersion,
    type: MessageTypes.removed,
    messageId: hashId(run.runId, MessageTypes.removed, { id: removed.id, removed: reason }),
    runId: run.runId,
    runAt: run.runAt.toISOString(),
    sequence,
    user: { id: removed.id },
    removed: reason,
  };
}

export function buildSnapshotCompleted(users: number, reason: SnapshotReason, run: RunInfo, sequence: number): SnapshotCompletedMessage {
  const snapshot = { users, reason };
  return {
    schemaVersion: messageSchemaVersion,
    type: MessageTypes.snapshotCompleted,
    messageId: hashId(run.runId, MessageTypes.snapshotCompleted, snapshot),
    runId: run.runId,
    runAt: run.runAt.toISOString(),
    sequence,
    snapshot,
  };
}

/** The queue message that points at the blob holding `message` whole. */
export function overflowMessage(message: UserStateMessage, reference: OverflowReference): UserStateMessage {
  return { ...message, user: { id: message.user['id'] ?? null }, overflow: reference };
}

/** The encoded body, or undefined when it would be over the queue's limit (the caller then uses a claim check). */
export function encodeMessage(message: SyncMessage, encoding: MessageEncoding): string | undefined {
  const json = JSON.stringify(message);
  const text = encoding === 'base64' ? Buffer.from(json, 'utf8').toString('base64') : json;
  // The service counts the body as sent: base64 as is, plain text XML-escaped by the SDK.
  const size = Buffer.byteLength(encoding === 'base64' ? text : xmlEscape(text), 'utf8');
  return size > maxQueueMessageBytes ? undefined : text;
}

/** Reverses encodeMessage (what a consumer does; used by the local tools and tests). */
export function decodeMessage(text: string, encoding: MessageEncoding): SyncMessage {
  const json = encoding === 'base64' ? Buffer.from(text, 'base64').toString('utf8') : text;
  return JSON.parse(json) as SyncMessage;
}

function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}
