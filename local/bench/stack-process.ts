import { startAzurite, type RunningAzurite } from '../azurite';
import { churnKind, churnUpdate } from '../churn';
import { startLocalStack } from '../stack';
import { prng } from '../stand-ins/seed';
import type { GraphStandIn } from '../stand-ins/graph';
import type { FreshQueue, StackAnswer, StackCommand, StackCounters, StackReady } from './protocol';
import { startQueueProxy, type QueueProxyOptions, type RunningQueueProxy } from './queue-proxy';

/**
 * npm run bench's stack, in a process of its own (forked by bench.ts), as Graph and Storage run
 * apart from the Function in production: the Entra ID, Graph and Key Vault stand-ins, Azurite
 * (its own processes, started from here), the azure model's queue proxy, and the sink the
 * "reading alone" scenario sends to. Commands come over the IPC channel (protocol.ts).
 */

export interface BenchStackOptions {
  users: number;
  /** Graph page latency, ms per 999 users (0: none). */
  graphMsPer999: number;
  /** The azure model's queue (undefined: the sync talks to Azurite directly); `sink`: answered by the proxy, not stored. */
  queue: Omit<QueueProxyOptions, 'target'> | undefined;
}

async function main(): Promise<void> {
  const options = JSON.parse(process.env['BENCH_STACK_OPTIONS'] ?? '') as BenchStackOptions;
  const stack = await startLocalStack({ users: options.users });
  stack.graph.pageLatencyMsPer999 = options.graphMsPer999;
  let proxy: RunningQueueProxy | undefined;
  let sink: RunningQueueProxy | undefined;
  try {
    proxy = options.queue === undefined ? undefined : await startQueueProxy({ target: stack.azurite.queueEndpoint, ...options.queue });
    sink = await startQueueProxy({ target: stack.azurite.queueEndpoint, sink: true });
  } catch (error) {
    await stack.stop();
    throw error;
  }
  const withQueue = (endpoint: string): Record<string, string> => ({
    ...stack.settings,
    AzureWebJobsStorage: (stack.settings['AzureWebJobsStorage'] ?? '').replace(`QueueEndpoint=${stack.azurite.queueEndpoint}`, `QueueEndpoint=${endpoint}`),
  });
  const hostOf = (url: string): string => new URL(url).host;
  const ready: StackReady = {
    type: 'ready',
    sinkSettings: withQueue(sink.endpoint),
    identityEnvironment: stack.identityEnvironment,
    clientSecret: stack.clientSecret,
    hosts: { graph: hostOf(stack.graph.url), blob: hostOf(stack.azurite.blobEndpoint), keyVault: hostOf(stack.keyVault.url), sink: hostOf(sink.endpoint) },
  };
  // The scenario's own Azurite for its queue (protocol.ts, FreshQueue); checkpoints stay in the stack's.
  let scenarioAzurite: RunningAzurite | undefined;
  const freshQueue = async (): Promise<FreshQueue> => {
    const previous = scenarioAzurite;
    scenarioAzurite = undefined;
    await previous?.stop();
    scenarioAzurite = await startAzurite();
    proxy?.setTarget(scenarioAzurite.queueEndpoint);
    const endpoint = proxy?.endpoint ?? scenarioAzurite.queueEndpoint;
    return { settings: withQueue(endpoint), queueHost: hostOf(endpoint) };
  };
  const stop = async (): Promise<void> => {
    await Promise.all([proxy?.close(), sink?.close()]);
    await Promise.all([stack.stop(), scenarioAzurite?.stop()]);
  };

  const answer = async (command: StackCommand): Promise<unknown> => {
    switch (command.cmd) {
      case 'seed':
        stack.graph.seed(command.users);
        return undefined;
      case 'churn':
        return churn(stack.graph, Math.round((stack.graph.users.length * command.percent) / 100));
      case 'counters': {
        const { requests, pageRequests, pages, throttled } = stack.graph.counters;
        const counters: StackCounters = {
          graph: { requests, pageRequests, pages, throttled },
          proxy: proxy === undefined ? undefined : { ...proxy.counters },
          sink: { requests: sink.counters.requests, messages: sink.counters.messages },
        };
        Object.assign(stack.graph.counters, { requests: 0, pageRequests: 0, pages: 0, throttled: 0 });
        proxy?.resetCounters();
        sink.resetCounters();
        return counters;
      }
      case 'freshQueue':
        return freshQueue();
      case 'stop':
        await (stopping ??= stop());
        return undefined;
    }
  };
  process.on('message', (command: StackCommand) => {
    answer(command).then(
      (value) => {
        process.send?.({ id: command.id, ok: true, value } satisfies StackAnswer);
        if (command.cmd === 'stop') process.disconnect();
      },
      (error: unknown) => process.send?.({ id: command.id, ok: false, error: error instanceof Error ? error.message : String(error) } satisfies StackAnswer),
    );
  });
  // The parent went away without a stop, or a signal came: take Azurite down with us.
  let stopping: Promise<void> | undefined;
  const stopAndExit = (code: number) => (): void => void (stopping ??= stop()).finally(() => process.exit(code));
  process.on('disconnect', stopAndExit(0));
  process.on('SIGINT', stopAndExit(130));
  process.on('SIGTERM', stopAndExit(143));
  if (process.connected) process.send?.(ready);
  else stopAndExit(0)();
}

/**
 * `changes` changes of the stand-in's churn mix (churn.ts: 30% updated, 25% added, 20%
 * soft-deleted, 15% hard-deleted; restores, which need a soft-deleted user, become updates as
 * GraphStandIn.churn makes them when none is left), each to a different user, through the stand-in's
 * own methods. GraphStandIn.churn draws each user from a fresh list of every record, which is
 * quadratic: 10,000 changes among 1,000,000 users would take hours. Repeatable (seeded).
 */
function churn(graph: GraphStandIn, changes: number): Record<string, number> {
  const random = prng(20261202);
  const users = graph.users;
  const picked = new Set<number>();
  const pick = (): (typeof users)[number] => {
    for (;;) {
      const index = Math.floor(random() * users.length);
      if (picked.has(index)) continue;
      picked.add(index);
      return users[index] as (typeof users)[number];
    }
  };
  const made: Record<string, number> = {};
  for (let i = 0; i < changes; i++) {
    let kind = churnKind(random);
    if (kind === 'restored') kind = 'updated';
    if (kind !== 'added' && picked.size >= users.length) kind = 'added';
    made[kind] = (made[kind] ?? 0) + 1;
    if (kind === 'added') {
      graph.addUser();
      continue;
    }
    const user = pick();
    if (kind === 'updated') graph.updateUser(user.id, churnUpdate(user, random));
    else if (kind === 'softDeleted') graph.softDeleteUser(user.id);
    else graph.hardDeleteUser(user.id);
  }
  return made;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench stack failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
