import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { Agent, createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loopbackHost } from '../net';

/**
 * npm run bench's network model for Storage: a small loopback HTTP proxy in front of Azurite's
 * queue endpoint, which the sync (and the ceiling and naive scripts) reach instead of Azurite.
 *
 * - `latencyMs` is added to every request before it is forwarded (Azure: a few milliseconds per
 *   call from a Function in the same region).
 * - `messagesPerSecond` caps the messages put on one queue (POST …/messages) with a token bucket:
 *   Azure's published target is 2,000 messages/s per queue. Beyond it, `overLimit` says what
 *   happens: `delay` (the default) holds the request until the bucket has a token, `503` answers
 *   503 ServerBusy as Azure's front end may. Delay is the default because Azure publishes 2,000/s
 *   as a target, not as a hard limit, and a client at the target sees slower answers first; with
 *   503 the figure would mostly measure the client's retry back-off (1 s and more, storage.ts),
 *   not whether reading and sending overlap. `--queue-over-limit 503` shows that case.
 * - `sink: true` answers every message POST itself with a made-up 201 (after the latency and the
 *   cap, if any), without Azurite. With neither, it is the bench's "reading alone": a queue that
 *   costs nothing. With them, it is the azure model's queue without Azurite behind it (--queue-store
 *   none): Azurite takes a core of this machine and fewer messages a second than Azure's target.
 *
 * Everything else (create queue, the account's other calls) is forwarded untouched.
 */

export interface QueueProxyOptions {
  /** Azurite's queue endpoint, e.g. http://127.0.0.1:10001/devstoreaccount1 (only origin is used). */
  target: string;
  latencyMs?: number;
  /** Messages per second per queue; undefined: no cap. */
  messagesPerSecond?: number;
  overLimit?: 'delay' | '503';
  sink?: boolean;
}

export interface QueueProxyCounters {
  requests: number;
  messages: number;
  /** 503 ServerBusy answered by the cap. */
  throttled: number;
  /** Total time messages waited for the cap (delay mode), ms. */
  waitedMs: number;
}

/**
 * A token bucket, in the caller's clock (milliseconds): `rate` tokens a second, at most `burst`
 * stored. `reserve` always takes a token and says how long to wait for it (a debt queues later
 * callers behind earlier ones); `tryTake` takes one only if there is one now.
 */
export class TokenBucket {
  #tokens: number;
  #last: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(rate > 0) || !(burst >= 1)) throw new RangeError(`a token bucket needs rate > 0 and burst >= 1 (rate ${rate}, burst ${burst})`);
    this.#tokens = burst;
    this.#last = now();
  }

  #refill(): void {
    const now = this.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) * this.rate) / 1000);
    this.#last = now;
  }

  /** Takes a token; the milliseconds until it is really there (0: now). */
  reserve(): number {
    this.#refill();
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : (-this.#tokens * 1000) / this.rate;
  }

  tryTake(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

export interface RunningQueueProxy {
  /** The proxy's queue endpoint (same account path as the target). */
  readonly endpoint: string;
  readonly counters: QueueProxyCounters;
  resetCounters(): void;
  /** Forwards to another queue endpoint from now on (same account path). */
  setTarget(endpoint: string): void;
  close(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Reads the request's body to its end before the proxy answers it itself: Node's server closes a
 * connection whose request was answered before it was read, and the client would then open a new
 * TCP connection for every message.
 */
async function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded) return;
  req.resume();
  await new Promise<void>((resolve) => {
    req.once('end', resolve);
    req.once('error', () => resolve());
  });
}

export async function startQueueProxy(options: QueueProxyOptions): Promise<RunningQueueProxy> {
  let target = new URL(options.target);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const counters: QueueProxyCounters = { requests: 0, messages: 0, throttled: 0, waitedMs: 0 };
  const buckets = new Map<string, TokenBucket>();
  const rate = options.messagesPerSecond;
  // A tenth of a second of burst: enough for the 32 sends in flight a client keeps, no more.
  const bucketFor = (queue: string): TokenBucket | undefined => {
    if (rate === undefined) return undefined;
    let bucket = buckets.get(queue);
    if (bucket === undefined) buckets.set(queue, (bucket = new TokenBucket(rate, Math.max(1, rate / 10))));
    return bucket;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    counters.requests++;
    const path = req.url ?? '/';
    const message = req.method === 'POST' && /\/messages(\?|$)/.test(path);
    if (message) counters.messages++;
    if (options.latencyMs !== undefined && options.latencyMs > 0) await sleep(options.latencyMs);
    const bucket = message ? bucketFor(path.split('?')[0]?.split('/').slice(0, -1).join('/') ?? '') : undefined;
    if (bucket !== undefined) {
      if (options.overLimit === '503') {
        if (!bucket.tryTake()) {
          counters.throttled++;
          await drain(req);
          return serverBusy(res);
        }
      } else {
        const wait = bucket.reserve();
        if (wait > 0) {
          counters.waitedMs += wait;
          await sleep(wait);
        }
      }
    }
    if (message && options.sink === true) {
      await drain(req);
      return sinkAnswer(res);
    }
    const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path, headers: req.headers, agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`queue proxy: ${error.message}`);
    });
    req.pipe(upstream);
  };

  const server = createServer((req, res) => void handle(req, res));
  // Connections kept as Storage keeps them. net.ts's listen() keeps them 1 s, and Node's agent keeps
  // a free socket for the server's keep-alive hint minus 1 s: a new connection for every message.
  server.keepAliveTimeout = 60_000;
  server.listen(0, loopbackHost);
  await once(server, 'listening');
  const url = `http://${loopbackHost}:${(server.address() as AddressInfo).port}`;
  return {
    endpoint: `${url}${target.pathname.replace(/\/$/, '')}`,
    counters,
    resetCounters: () => Object.assign(counters, { requests: 0, messages: 0, throttled: 0, waitedMs: 0 }),
    setTarget: (endpoint) => {
      target = new URL(endpoint);
      buckets.clear();
    },
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      agent.destroy();
    },
  };
}

/** What Storage answers a Put Message with (201 and the message's receipt). */
function sinkAnswer(res: ServerResponse): void {
  const now = new Date();
  const later = new Date(now.getTime() + 7 * 86_400_000);
  const body =
    `<?xml version="1.0" encoding="utf-8"?><QueueMessagesList><QueueMessage><MessageId>${randomUUID()}</MessageId>` +
    `<InsertionTime>${now.toUTCString()}</InsertionTime><ExpirationTime>${later.toUTCString()}</ExpirationTime>` +
    `<PopReceipt>AgAAAAMAAAAAAAAA</PopReceipt><TimeNextVisible>${now.toUTCString()}</TimeNextVisible></QueueMessage></QueueMessagesList>`;
  res.writeHead(201, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    'x-ms-request-id': randomUUID(),
    'x-ms-version': '2025-11-05',
  });
  res.end(body);
}

/** Azure's answer to a queue over its target. */
function serverBusy(res: ServerResponse): void {
  const body = `<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code><Message>The server is busy.\nRequestId:${randomUUID()}\nTime:${new Date().toISOString()}</Message></Error>`;
  res.writeHead(503, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    'x-ms-error-code': 'ServerBusy',
    'x-ms-request-id': randomUUID(),
  });
  res.end(body);
}
