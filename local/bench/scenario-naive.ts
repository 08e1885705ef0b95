import { randomUUID } from 'node:crypto';
import { ConfidentialClientApplication } from '@azure/msal-node';
import { QueueClient } from '@azure/storage-queue';
import { buildUserMessage, type DirectoryEntry, encodeMessage, MessageTypes, parseUsersPage, sequenceOf } from '../../shared/internal';
import { countRequests, cpuSince, exitWithParent, trackLiveHeap, type ScenarioReport } from './protocol';

/**
 * npm run bench's scenario (b), naive: what the quickstart samples do. msal-node's client
 * credentials with the secret from configuration; GET /users?$select&$top=999 with fetch,
 * following @odata.nextLink and keeping every page in memory; then one message per user, each send
 * awaited before the next, with the queue client's defaults. The messages are the sync's own
 * (shared/messages/messages.ts), so that only the pattern differs, not the bytes.
 *
 * BENCH_NAIVE_MAX_SEND_MS (0: none) stops the sending after that long; bench.ts then extrapolates
 * the sending time from the messages sent (one at a time, so the rate is steady) and says so.
 */
async function main(): Promise<void> {
  exitWithParent();
  const env = process.env as Record<string, string>;
  const fields = (env['USER_FIELDS'] ?? 'id').split(',');
  const maxSendMs = Number(env['BENCH_NAIVE_MAX_SEND_MS'] ?? '0');
  const requests = countRequests();
  const liveHeap = trackLiveHeap();
  const started = performance.now();
  const cpu = process.cpuUsage();

  const app = new ConfidentialClientApplication({
    auth: {
      clientId: env['GRAPH_CLIENT_ID'] ?? '',
      authority: `${env['AUTHORITY_HOST'] ?? ''}/${env['GRAPH_TENANT_ID'] ?? ''}`,
      clientSecret: env['BENCH_CLIENT_SECRET'] ?? '',
      knownAuthorities: [new URL(env['AUTHORITY_HOST'] ?? '').host],
    },
  });
  const token = await app.acquireTokenByClientCredential({ scopes: [`${env['GRAPH_BASE_URL'] ?? ''}/.default`] });
  if (token === null) throw new Error('no token');

  const users: DirectoryEntry[] = [];
  let pages = 0;
  let url: string | undefined = `${env['GRAPH_BASE_URL'] ?? ''}/v1.0/users?$select=${fields.join(',')}&$top=999`;
  while (url !== undefined) {
    const response = await fetch(url, { headers: { authorization: `Bearer ${token.accessToken}` } });
    if (!response.ok) throw new Error(`GET /users: ${response.status}`);
    const page = parseUsersPage(await response.json(), fields);
    users.push(...page.entries);
    pages++;
    url = page.nextLink;
  }
  const readMs = performance.now() - started;

  const queue = new QueueClient(env['AzureWebJobsStorage'] ?? '', env['USERS_QUEUE_NAME'] ?? 'users');
  await queue.createIfNotExists();
  const run = { runId: randomUUID(), runAt: new Date() };
  const sendStarted = performance.now();
  let sent = 0;
  for (const entry of users) {
    if (entry.kind !== 'user') continue;
    const text = encodeMessage(buildUserMessage(entry.user, MessageTypes.snapshot, run, sequenceOf(1, sent + 1)), 'base64');
    if (text === undefined) continue;
    await queue.sendMessage(text);
    sent++;
    if (maxSendMs > 0 && performance.now() - sendStarted > maxSendMs) break;
  }
  const sendMs = performance.now() - sendStarted;
  const report: ScenarioReport = {
    ok: true,
    wallMs: performance.now() - started,
    users: users.length,
    messages: sent,
    requests: requests(),
    maxRssKiB: process.resourceUsage().maxRSS,
    liveHeapKiB: liveHeap(),
    cpuMs: cpuSince(cpu),
    details: { pages, readMs, sendMs, complete: sent === users.length },
  };
  process.send?.(report, () => process.exit(0));
}

main().catch((error: unknown) => {
  const report: ScenarioReport = {
    ok: false,
    wallMs: 0,
    users: 0,
    messages: 0,
    requests: {},
    maxRssKiB: process.resourceUsage().maxRSS,
    cpuMs: 0,
    error: error instanceof Error ? error.message : String(error),
  };
  process.send?.(report, () => process.exit(1));
});
