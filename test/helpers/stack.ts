import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { InvocationContext, type LogLevel, type Timer } from '@azure/functions';
import { ManagedIdentityCredential } from '@azure/identity';
import { QueueClient } from '@azure/storage-queue';
import {
  type AppTokenProvider,
  type AppTokenProviderOptions,
  createAppTokenProvider,
  createClientSecretSource,
  createSecretCredential,
  MessageTypes,
  type SnapshotCompletedMessage,
  type SyncMessage,
  type UserMessage,
} from '../../shared/internal';
import { allSettingNames, type MessageEncoding } from '../../shared';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../local/stack';
import { receiveAll } from '../../local/read-queue';
import { assertValidMessages } from './schema';

/**
 * Starts the offline stack for one test file (one process: node --test runs each file apart) and
 * points this process's environment at it, the way app settings reach the Function in Azure.
 * The managed-identity variables are set once, before any credential exists (see facts: the
 * identity source is static per process).
 */
export async function startStackForTests(options: LocalStackOptions = {}): Promise<LocalStack> {
  const stack = await startLocalStack(options);
  Object.assign(process.env, stack.identityEnvironment);
  applySettings(stack);
  return stack;
}

/**
 * Resets the process environment to the stack's settings, then applies `overrides` (undefined
 * deletes). Every other setting the code reads is removed, so no test inherits another's.
 */
export function applySettings(stack: LocalStack, overrides: Record<string, string | undefined> = {}): void {
  for (const name of allSettingNames) if (!(name in stack.settings)) Reflect.deleteProperty(process.env, name);
  for (const [name, value] of Object.entries({ ...stack.settings, ...overrides })) {
    if (value === undefined) Reflect.deleteProperty(process.env, name);
    else process.env[name] = value;
  }
}

export interface LogLine {
  level: LogLevel;
  text: string;
}

export function testContext(): { context: InvocationContext; logs: LogLine[] } {
  const logs: LogLine[] = [];
  const context = new InvocationContext({
    invocationId: randomUUID(),
    functionName: 'syncUsers',
    logHandler: (level, ...args) => logs.push({ level, text: args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ') }),
  });
  return { context, logs };
}

export function timer(): Timer {
  const now = new Date().toISOString();
  return { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: now, next: now, lastUpdated: now } };
}

/** Receives (and deletes) every message in the queue, decoded and checked against the message schema. */
export async function drainAll(connectionString: string, queueName: string, encoding: MessageEncoding = 'base64'): Promise<SyncMessage[]> {
  const queue = new QueueClient(connectionString, queueName);
  if (!(await queue.exists())) return [];
  const messages = await receiveAll(queue, encoding);
  await queue.clearMessages();
  assertValidMessages(messages);
  return messages;
}

/** drainAll, split: the user messages (snapshot, upserted, removed) and the snapshot.completed markers. */
export async function drainQueueSplit(
  connectionString: string,
  queueName: string,
  encoding: MessageEncoding = 'base64',
): Promise<{ users: UserMessage[]; markers: SnapshotCompletedMessage[] }> {
  const messages = await drainAll(connectionString, queueName, encoding);
  const users: UserMessage[] = [];
  const markers: SnapshotCompletedMessage[] = [];
  for (const m of messages) {
    if (m.type === MessageTypes.snapshotCompleted) markers.push(m);
    else users.push(m);
  }
  return { users, markers };
}

/** type (and removal reason) per user id, e.g. `user.upserted` or `removed:outOfScope`; asserts each user appears once. */
export function byUser(messages: readonly UserMessage[]): Map<string, string> {
  const result = new Map<string, string>();
  for (const m of messages) {
    const id = m.user.id as string;
    assert.ok(!result.has(id), `one message for ${id}`);
    result.set(id, m.type === 'user.removed' ? `removed:${m.removed.reason}` : m.type);
  }
  return result;
}

/** The user messages of drainQueueSplit (the markers are checked against the schema, then dropped). */
export async function drainQueue(connectionString: string, queueName: string, encoding: MessageEncoding = 'base64'): Promise<UserMessage[]> {
  return (await drainQueueSplit(connectionString, queueName, encoding)).users;
}

export async function clearQueue(connectionString: string, queueName: string): Promise<void> {
  const queue = new QueueClient(connectionString, queueName);
  if (await queue.exists()) await queue.clearMessages();
}

/** A Graph token provider wired as the app wires it: secret (named `secretName`) from the stand-in vault via managed identity. */
export function graphTokenProvider(
  stack: LocalStack,
  overrides: Partial<AppTokenProviderOptions> = {},
  secretName: string = stack.secretName,
): AppTokenProvider {
  const source = createClientSecretSource(stack.keyVault.url, secretName, new ManagedIdentityCredential({ clientId: stack.identityClientId }));
  return createAppTokenProvider({
    tenantId: stack.tenantId,
    clientId: stack.clientId,
    authorityHost: stack.entra.url,
    scope: `${stack.graph.url}/.default`,
    credential: createSecretCredential(source, secretName),
    ...overrides,
  });
}
