/**
 * Fault injection for the local stand-ins: a small grammar and the plan that applies it.
 *
 *   parseFaults('graph-429@2,graph-reset@3x2,token-503,queue-down@2x4,sigterm@3')
 *
 * Items are comma-separated: `name[@page][xN]`. `@page` (Graph faults, queue-down, sigterm only) is
 * the n-th Graph page request the stand-in serves since the plan was armed, 1-based; a retry of a
 * page is a new request. `xN` repeats the fault on N consecutive matching requests; for queue-down
 * N is the outage in seconds (default 3). A FaultPlan holds the armed faults, tells each stand-in
 * per request what to inject (`take`), fires the stack-level ones (queue-down, sigterm) through
 * its hooks, and counts what it injected.
 */

export const faultNames = [
  'graph-429',
  'graph-429-date',
  'graph-503',
  'graph-504',
  'graph-400',
  'graph-reset',
  'graph-truncated',
  'graph-hang',
  'graph-stall',
  'graph-expire-links',
  'token-503',
  'token-429',
  'kv-429',
  'kv-503',
  'queue-down',
  'sigterm',
] as const;

export type FaultName = (typeof faultNames)[number];

/** Which requests a fault is taken by: Graph page requests, Entra token requests, Key Vault secret reads. */
export type FaultKind = 'graph' | 'token' | 'kv';

export interface Fault {
  readonly name: FaultName;
  /** 1-based Graph page request number (Graph faults, queue-down, sigterm); none for token-* and kv-*. */
  readonly page?: number;
  /** Consecutive requests hit; for queue-down, the outage in seconds. */
  readonly count: number;
}

/** How the stack carries out the faults that are not an HTTP answer. */
export interface FaultHooks {
  /** queue-down: take storage down for this many seconds and bring it back with its data; must not block. Without it, arming queue-down throws. */
  queueDown?: (seconds: number) => void;
  /** sigterm. Default: process.kill(process.pid, 'SIGTERM'). */
  sigterm?: () => void;
}

interface FaultInfo {
  kind: FaultKind;
  /** It replaces the Graph answer (two of these cannot share a request). */
  answers: boolean;
  /** Page when `@` is left out; undefined: the next free requests, in list order. */
  defaultPage?: number;
  defaultCount: number;
}

const info: Record<FaultName, FaultInfo> = {
  'graph-429': { kind: 'graph', answers: true, defaultCount: 1 },
  'graph-429-date': { kind: 'graph', answers: true, defaultCount: 1 },
  'graph-503': { kind: 'graph', answers: true, defaultCount: 1 },
  'graph-504': { kind: 'graph', answers: true, defaultCount: 1 },
  'graph-400': { kind: 'graph', answers: true, defaultCount: 1 },
  'graph-reset': { kind: 'graph', answers: true, defaultCount: 1 },
  'graph-truncated': { kind: 'graph', answers: true, defaultCount: 1 },
  'graph-hang': { kind: 'graph', answers: true, defaultCount: 1 },
  'graph-stall': { kind: 'graph', answers: true, defaultCount: 1 },
  'graph-expire-links': { kind: 'graph', answers: false, defaultPage: 2, defaultCount: 1 },
  'token-503': { kind: 'token', answers: false, defaultCount: 1 },
  'token-429': { kind: 'token', answers: false, defaultCount: 1 },
  'kv-429': { kind: 'kv', answers: false, defaultCount: 1 },
  'kv-503': { kind: 'kv', answers: false, defaultCount: 1 },
  'queue-down': { kind: 'graph', answers: false, defaultPage: 2, defaultCount: 3 },
  sigterm: { kind: 'graph', answers: false, defaultPage: 2, defaultCount: 1 },
};

const maxPage = 1_000_000;
const maxCount = 10_000;
const maxOutageSeconds = 600;

export function faultKind(name: FaultName): FaultKind {
  return info[name].kind;
}

/** Whether this Graph fault replaces the page's answer (a status, a broken body, no answer). */
export function answersGraphRequest(name: FaultName): boolean {
  return info[name].answers;
}

function specError(item: string, problem: string): Error {
  return new Error(
    `Bad fault "${item}": ${problem}. Write name[@page][xN], comma-separated, e.g. graph-429@2,token-503,queue-down@2x4. Valid names: ${faultNames.join(', ')}.`,
  );
}

function wholeNumber(text: string, min: number, max: number): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= min && n <= max ? n : undefined;
}

/** Parses one list ("" gives none). Throws one Error naming the bad item and listing the valid names. */
export function parseFaults(spec: string): Fault[] {
  if (spec.trim() === '') return [];
  return spec.split(',').map((raw) => parseItem(raw.trim()));
}

function parseItem(item: string): Fault {
  if (item === '') throw specError(item, 'empty item (two commas in a row, or one at an end)');
  // The longest valid name the item starts with ("graph-429-date" before "graph-429"); names may hold an "x".
  const name = [...faultNames].sort((a, b) => b.length - a.length).find((n) => item.startsWith(n) && /^(@|x|$)/.test(item.slice(n.length)));
  if (name === undefined) {
    const shown = item.split('@')[0]?.replace(/x\d+$/, '') ?? item;
    throw specError(item, `unknown fault name "${shown}"`);
  }
  const rest = /^(?:@([^x]*))?(?:x(.*))?$/.exec(item.slice(name.length));
  if (rest === null) throw specError(item, 'unexpected text after the name');
  const [, pageText, countText] = rest;
  const fault: { name: FaultName; page?: number; count: number } = { name, count: info[name].defaultCount };
  if (pageText !== undefined) {
    if (info[name].kind !== 'graph')
      throw specError(item, `${name} has no page: it hits the next ${info[name].kind === 'token' ? 'token requests' : 'secret reads'}, so leave out "@"`);
    const page = wholeNumber(pageText, 1, maxPage);
    if (page === undefined) throw specError(item, `the page after "@" must be a whole number from 1 to ${maxPage}, not "${pageText}"`);
    fault.page = page;
  }
  if (countText !== undefined) {
    const max = name === 'queue-down' ? maxOutageSeconds : maxCount;
    const count = wholeNumber(countText, 1, max);
    const what = name === 'queue-down' ? 'the outage in seconds' : 'the repeat count';
    if (count === undefined) throw specError(item, `${what} after "x" must be a whole number from 1 to ${max}, not "${countText}"`);
    fault.count = count;
  }
  return fault;
}

/** The list back in the grammar (pages as armed, i.e. resolved). */
export function formatFaults(faults: readonly Fault[]): string {
  return faults.map((f) => `${f.name}${f.page === undefined ? '' : `@${f.page}`}${f.count === info[f.name].defaultCount ? '' : `x${f.count}`}`).join(',');
}

interface Armed {
  readonly fault: Fault;
  readonly item: string;
  /** graph kind: first request number hit. */
  readonly page: number;
  /** token / kv kinds: requests still to hit. */
  remaining: number;
}

function lastPage(a: Armed): number {
  return a.fault.name === 'queue-down' ? a.page : a.page + a.fault.count - 1;
}

export class FaultPlan {
  #armed: Armed[] = [];
  #pageRequests = 0;
  #injected = 0;
  #byName = new Map<FaultName, number>();
  #hooks: FaultHooks;

  constructor(hooks: FaultHooks = {}) {
    this.#hooks = hooks;
  }

  /** Replaces the hooks; throws if a fault already armed needs one that is now missing. */
  setHooks(hooks: FaultHooks): void {
    const queueDown = this.#armed.find((a) => a.fault.name === 'queue-down');
    if (queueDown !== undefined && hooks.queueDown === undefined) throw queueDownError(queueDown.item);
    this.#hooks = hooks;
  }

  /**
   * Replaces the armed faults with this list and restarts Graph page numbering at 1. Graph faults
   * without "@" take the next free requests in list order; graph-expire-links, queue-down and
   * sigterm default to @2. Two faults that answer the same Graph request are an error. Counts of
   * what was injected are kept (see clear()).
   */
  arm(spec: string | readonly Fault[]): this {
    const faults = typeof spec === 'string' ? parseFaults(spec) : spec;
    const armed: Armed[] = [];
    // Explicit pages first, so that faults without one can go round them.
    const answering: Armed[] = [];
    for (const fault of faults) {
      const item = formatFaults([fault]);
      if (fault.name === 'queue-down' && this.#hooks.queueDown === undefined) throw queueDownError(item);
      const page = fault.page ?? info[fault.name].defaultPage;
      if (info[fault.name].kind !== 'graph' || page === undefined) continue;
      const entry: Armed = { fault: { ...fault, page }, item, page, remaining: fault.count };
      if (info[fault.name].answers) {
        const clash = answering.find((a) => page <= lastPage(a) && a.page <= lastPage(entry));
        if (clash !== undefined)
          throw specError(item, `it answers the same Graph request as "${clash.item}" (request ${Math.max(page, clash.page)}); give each its own @page`);
        answering.push(entry);
      }
      armed.push(entry);
    }
    let cursor = 1;
    for (const fault of faults) {
      const kind = info[fault.name].kind;
      const item = formatFaults([fault]);
      if (kind !== 'graph') {
        armed.push({ fault, item, page: 0, remaining: fault.count });
        continue;
      }
      if (fault.page !== undefined || info[fault.name].defaultPage !== undefined) continue;
      let page = cursor;
      for (;;) {
        const end = page + fault.count - 1;
        const clash = answering.find((a) => page <= lastPage(a) && a.page <= end);
        if (clash === undefined) break;
        page = lastPage(clash) + 1;
      }
      const entry: Armed = { fault: { ...fault, page }, item, page, remaining: fault.count };
      answering.push(entry);
      armed.push(entry);
      cursor = page + fault.count;
    }
    this.#armed = armed;
    this.#pageRequests = 0;
    return this;
  }

  /** Disarms everything, restarts page numbering and zeroes the injected counts. */
  clear(): void {
    this.#armed = [];
    this.#pageRequests = 0;
    this.#injected = 0;
    this.#byName.clear();
  }

  /** Faults still to fire (Graph ones with their resolved @page), in the grammar's terms. */
  get pending(): Fault[] {
    return this.#armed.filter((a) => (info[a.fault.name].kind === 'graph' ? lastPage(a) > this.#pageRequests : a.remaining > 0)).map((a) => a.fault);
  }

  /** Graph page requests seen since the plan was armed. */
  get pageRequests(): number {
    return this.#pageRequests;
  }

  /** Faults injected in all (each hit request counts one; a queue-down outage counts one). */
  get injected(): number {
    return this.#injected;
  }

  /** Faults injected, per name (names never injected are 0). */
  get injectedByName(): Record<FaultName, number> {
    return Object.fromEntries(faultNames.map((n) => [n, this.#byName.get(n) ?? 0])) as Record<FaultName, number>;
  }

  /**
   * Called by a stand-in for each request of its kind; returns the faults that hit it (counted as
   * injected). For 'graph' the request is numbered by the plan (pass `page` only to force a number).
   * queue-down and sigterm are carried out here, through the hooks, before this returns.
   */
  take(kind: FaultKind, page?: number): Fault[] {
    const hits: Fault[] = [];
    if (kind === 'graph') {
      const n = page ?? this.#pageRequests + 1;
      this.#pageRequests = n;
      for (const a of this.#armed) {
        if (info[a.fault.name].kind === 'graph' && n >= a.page && n <= lastPage(a)) hits.push(a.fault);
      }
    } else {
      const next = this.#armed.find((a) => info[a.fault.name].kind === kind && a.remaining > 0);
      if (next !== undefined) {
        next.remaining--;
        hits.push(next.fault);
      }
    }
    for (const hit of hits) {
      this.#injected++;
      this.#byName.set(hit.name, (this.#byName.get(hit.name) ?? 0) + 1);
      if (hit.name === 'queue-down') this.#hooks.queueDown?.(hit.count);
      if (hit.name === 'sigterm') (this.#hooks.sigterm ?? defaultSigterm)();
    }
    return hits;
  }
}

function defaultSigterm(): void {
  process.kill(process.pid, 'SIGTERM');
}

function queueDownError(item: string): Error {
  return new Error(
    `Fault "${item}" restarts Azurite and needs it on disk, or the queue would come back empty: start the stack with persistent: true (npm run local -- --faults does this when the list has queue-down).`,
  );
}
