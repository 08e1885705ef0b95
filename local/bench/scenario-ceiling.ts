import { randomUUID } from 'node:crypto';
import { buildUserMessage, createQueueClient, encodeMessage, MessageTypes, parseUsersPage, sequenceOf, storageRetryOptions } from '../../shared/internal';
import { readSettings } from '../../shared';
import { seedUsers } from '../stand-ins/seed';
import { userProperty } from '../stand-ins/user-schema';
import { countRequests, cpuSince, exitWithParent, trackLiveHeap, type ScenarioReport } from './protocol';

/**
 * npm run bench's scenario (a), the ceiling: the same messages the sync would send for the same
 * users (the stand-in's seed, built and encoded by shared/messages/messages.ts before the clock starts),
 * sent to the same queue endpoint with the same client, retry options and number in flight
 * (QUEUE_SEND_CONCURRENCY), and nothing else: no Graph, no checkpoint. What the queue takes.
 */
async function main(): Promise<void> {
  exitWithParent();
  const settings = readSettings(process.env);
  const users = Number(process.env['BENCH_USERS']);
  const client = createQueueClient(settings.storage, settings.queueName, { retryOptions: storageRetryOptions(settings.retryBudgetMs) });
  await client.createIfNotExists();

  // As GET /users?$select returns them: every selected property, null when not set.
  const wire = seedUsers(users).map((user) => Object.fromEntries(settings.userFields.map((field) => [field, userProperty(user, field) ?? null])));
  const entries = parseUsersPage({ value: wire }, settings.userFields).entries;
  const run = { runId: randomUUID(), runAt: new Date() };
  const texts: string[] = [];
  for (const entry of entries) {
    if (entry.kind !== 'user') continue;
    const text = encodeMessage(buildUserMessage(entry.user, MessageTypes.snapshot, run, sequenceOf(1, texts.length + 1)), settings.messageEncoding);
    if (text !== undefined) texts.push(text);
  }
  wire.length = 0;

  const requests = countRequests();
  const liveHeap = trackLiveHeap();
  let next = 0;
  let sent = 0;
  let error: string | undefined;
  const started = performance.now();
  const cpu = process.cpuUsage();
  const worker = async (): Promise<void> => {
    while (error === undefined && next < texts.length) {
      const text = texts[next++] as string;
      try {
        await client.sendMessage(text);
        sent++;
      } catch (failure) {
        error ??= failure instanceof Error ? failure.message : String(failure);
      }
    }
  };
  await Promise.all(Array.from({ length: settings.sendConcurrency }, worker));
  const wallMs = performance.now() - started;
  const report: ScenarioReport = {
    ok: error === undefined,
    wallMs,
    users: texts.length,
    messages: sent,
    requests: requests(),
    maxRssKiB: process.resourceUsage().maxRSS,
    liveHeapKiB: liveHeap(),
    cpuMs: cpuSince(cpu),
    ...(error === undefined ? {} : { error }),
    details: { concurrency: settings.sendConcurrency, averageMessageBytes: Math.round(texts.reduce((n, t) => n + t.length, 0) / Math.max(1, texts.length)) },
  };
  process.send?.(report, () => process.exit(0));
}

void main();
