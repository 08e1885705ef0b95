import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { answersGraphRequest, type Fault, type FaultPlan } from '../faults';
import { bearerToken, listen, sendJson, type RunningServer } from '../net';
import type { TlsMaterial } from '../tls';
import { seedUsers, type SeedUser } from './seed';
import type { SigningKey } from './signing';

/**
 * Microsoft Graph's GET /v1.0/users: $select, $top (1-999, Graph's 400 otherwise), opaque
 * @odata.nextLink paging with $skiptoken, bearer-token verification (signature, audience, issuer,
 * expiry) and the User.Read.All application permission (403 Authorization_RequestDenied without it).
 * Faults: the `faults` queue below, and a shared FaultPlan (`plan`) consulted for each page request
 * (a request that passed the token and permission checks), numbered 1, 2, … since it was armed.
 */

const userProperties = new Set<string>([
  'id', 'displayName', 'givenName', 'surname', 'mail', 'userPrincipalName', 'accountEnabled', 'jobTitle', 'department',
  'mobilePhone', 'businessPhones', 'officeLocation', 'preferredLanguage', 'usageLocation', 'employeeId', 'createdDateTime',
  // Real properties the stand-in knows but leaves unset (returned as null), as Graph does for empty ones.
  'companyName', 'city', 'country', 'state', 'streetAddress', 'postalCode', 'faxNumber', 'otherMails', 'proxyAddresses',
  'onPremisesSyncEnabled', 'userType', 'employeeType', 'externalUserState', 'creationType', 'ageGroup', 'mailNickname', 'aboutMe',
]);
const defaultSelect = ['businessPhones', 'displayName', 'givenName', 'jobTitle', 'mail', 'mobilePhone', 'officeLocation', 'preferredLanguage', 'surname', 'userPrincipalName', 'id'];
const readRoles = ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'];
const defaultPageSize = 100;

/** What the next requests get, in order, before normal handling: throttling, an outage, an empty page, or a normal answer (`pass`). */
export type GraphFault = { status: number; retryAfterSeconds?: number } | { emptyPage: true } | { pass: true };

export interface GraphOptions {
  tls: TlsMaterial;
  signingKey: SigningKey;
  issuer: string;
  tenantId: string;
  users?: SeedUser[];
  plan?: FaultPlan;
}

export class GraphStandIn {
  users: SeedUser[];
  readonly faults: GraphFault[] = [];
  /** The shared fault plan, consulted before the `faults` queue. */
  plan: FaultPlan | undefined;
  /**
   * requests: all; pageRequests: those that reached paging; pages: whole pages served;
   * throttled: error statuses injected (either way); faultsInjected: hits from the plan.
   */
  readonly counters = { requests: 0, pageRequests: 0, pages: 0, throttled: 0, faultsInjected: 0 };
  /** The URLs requested, as received (for tests that check the nextLink was followed whole). */
  readonly requestLog: string[] = [];
  /** Every @odata.nextLink handed out. */
  readonly issuedNextLinks: string[] = [];
  readonly #skipTokens = new Map<string, number>();
  #server: RunningServer | undefined;

  constructor(private readonly options: GraphOptions) {
    this.users = options.users ?? [];
    this.plan = options.plan;
  }

  get url(): string {
    if (this.#server === undefined) throw new Error('Graph stand-in not started');
    return this.#server.url;
  }

  async start(): Promise<void> {
    this.#server = await listen((req, res) => this.#handle(req, res), this.options.tls);
  }

  async stop(): Promise<void> {
    await this.#server?.close();
  }

  /** New users. Skip tokens already handed out stay valid (as Graph's do while a directory changes). */
  seed(count: number, seed?: number): SeedUser[] {
    this.users = seedUsers(count, seed);
    return this.users;
  }

  /** Forgets every skip token handed out so far: they get 400 Directory_ExpiredPageToken from now on. */
  expireSkipTokens(): void {
    this.#skipTokens.clear();
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    this.counters.requests++;
    this.requestLog.push(req.url ?? '');
    const url = new URL(req.url ?? '/', this.url);
    const headers = { 'request-id': randomUUID(), 'client-request-id': String(req.headers['client-request-id'] ?? randomUUID()) };

    const token = bearerToken(req);
    if (token === undefined) return this.#error(res, 401, 'InvalidAuthenticationToken', 'Access token is empty.', headers);
    const verified = this.options.signingKey.verify(token, [this.url, `${this.url}/`], this.options.issuer);
    if (!verified.ok) return this.#error(res, 401, 'InvalidAuthenticationToken', verified.reason, headers);
    if (verified.claims.tid !== this.options.tenantId) return this.#error(res, 401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid tenant.', headers);

    if (req.method !== 'GET' || url.pathname.replace(/\/$/, '') !== '/v1.0/users') {
      return this.#error(res, 400, 'BadRequest', `Resource not found for the segment '${url.pathname.split('/').at(-1) ?? ''}'.`, headers);
    }
    if (!(verified.claims.roles ?? []).some((r) => readRoles.includes(r))) {
      return this.#error(res, 403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.', headers);
    }

    this.counters.pageRequests++;
    const hits = this.plan?.take('graph') ?? [];
    this.counters.faultsInjected += hits.length;
    if (hits.some((h) => h.name === 'graph-expire-links')) this.expireSkipTokens();
    const injected = hits.find((h) => answersGraphRequest(h.name));
    if (injected !== undefined && this.#answerWithoutPage(res, injected, headers)) return;

    const fault = injected === undefined ? this.faults.shift() : undefined;
    if (fault !== undefined && 'status' in fault) {
      this.counters.throttled++;
      const extra: Record<string, string> = fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
      const [code, text] = fault.status === 429 ? ['TooManyRequests', 'Too many requests.'] : fault.status >= 500 ? ['ServiceUnavailable', 'The service is temporarily unavailable.'] : ['Directory_ExpiredPageToken', 'The specified page token value has expired and can no longer be included in your request.'];
      return this.#error(res, fault.status, code, text, { ...headers, ...extra });
    }

    const select = url.searchParams.get('$select');
    const fields = select === null ? defaultSelect : select.split(',').map((f) => f.trim()).filter((f) => f !== '');
    const unknown = fields.find((f) => !userProperties.has(f));
    if (unknown !== undefined) return this.#error(res, 400, 'Request_BadRequest', `Could not find a property named '${unknown}' on type 'microsoft.graph.user'.`, headers);

    const topText = url.searchParams.get('$top');
    const top = topText === null ? defaultPageSize : Number(topText);
    if (!Number.isInteger(top) || top < 1 || top > 999) {
      return this.#error(res, 400, 'Request_UnsupportedQuery', `Invalid page size specified: '${topText ?? ''}'. Must be between 1 and 999 inclusive.`, headers);
    }

    let offset = 0;
    const skipToken = url.searchParams.get('$skiptoken');
    if (skipToken !== null) {
      const known = this.#skipTokens.get(skipToken);
      if (known === undefined) return this.#error(res, 400, 'Directory_ExpiredPageToken', 'The specified page token value has expired and can no longer be included in your request.', headers);
      offset = known;
    }

    const empty = fault !== undefined && 'emptyPage' in fault;
    const slice = empty ? [] : this.users.slice(offset, offset + top);
    const nextOffset = offset + slice.length;
    const body: Record<string, unknown> = {
      '@odata.context': `${this.url}/v1.0/$metadata#users(${fields.join(',')})`,
      value: slice.map((u) => Object.fromEntries(fields.map((f) => [f, (u as unknown as Record<string, unknown>)[f] ?? null]))),
    };
    if (nextOffset < this.users.length) {
      const next = `RFNwdAIAAQAAA${randomBytes(24).toString('base64url')}`;
      this.#skipTokens.set(next, nextOffset);
      const query = [select === null ? undefined : `$select=${select}`, topText === null ? undefined : `$top=${topText}`, `$skiptoken=${next}`].filter((q) => q !== undefined);
      const link = `${this.url}/v1.0/users?${query.join('&')}`;
      this.issuedNextLinks.push(link);
      body['@odata.nextLink'] = link;
    }
    const pageHeaders = { ...headers, 'content-type': 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8' };
    if (injected !== undefined) return this.#answerBroken(res, injected, body, pageHeaders);
    this.counters.pages++;
    sendJson(res, 200, body, pageHeaders);
  }

  /** The status faults and graph-hang (no answer at all); false for the others, which need the page. */
  #answerWithoutPage(res: ServerResponse, fault: Fault, headers: Record<string, string>): boolean {
    if (fault.name === 'graph-hang') return true; // open until the client gives up or stop() closes every connection
    const answers: Partial<Record<Fault['name'], [number, string, string, Record<string, string>]>> = {
      'graph-429': [429, 'TooManyRequests', 'Too many requests.', { 'retry-after': '1' }],
      'graph-429-date': [429, 'TooManyRequests', 'Too many requests.', { 'retry-after': new Date(Date.now() + 2000).toUTCString() }],
      'graph-503': [503, 'ServiceUnavailable', 'The service is temporarily unavailable.', {}],
      'graph-504': [504, 'GatewayTimeout', 'The gateway did not receive a timely response from the upstream service.', {}],
      'graph-400': [400, 'BadRequest', 'Invalid request (the local stack injected graph-400).', {}],
    };
    const answer = answers[fault.name];
    if (answer === undefined) return false;
    const [status, code, text, extra] = answer;
    this.counters.throttled++;
    this.#error(res, status, code, text, { ...headers, ...extra });
    return true;
  }

  /**
   * graph-reset: the page's headers and full content-length, half the body, then the socket is
   * destroyed. graph-truncated: half the body, chunked, ended cleanly. graph-stall: headers and
   * half the body, then nothing, until the client gives up or stop() closes every connection.
   */
  #answerBroken(res: ServerResponse, fault: Fault, body: unknown, headers: Record<string, string>): void {
    const bytes = Buffer.from(JSON.stringify(body), 'utf8');
    const half = bytes.subarray(0, Math.floor(bytes.length / 2));
    switch (fault.name) {
      case 'graph-reset':
        res.writeHead(200, { ...headers, 'content-length': bytes.length });
        res.write(half, () => res.destroy());
        return;
      case 'graph-truncated':
        res.writeHead(200, headers);
        res.end(half);
        return;
      case 'graph-stall':
        res.writeHead(200, { ...headers, 'content-length': bytes.length });
        res.write(half);
        return;
      default:
        this.counters.pages++;
        sendJson(res, 200, body, headers);
    }
  }

  #error(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string>): void {
    sendJson(res, status, { error: { code, message, innerError: { date: new Date().toISOString().replace(/\.\d+Z$/, ''), 'request-id': headers['request-id'], 'client-request-id': headers['client-request-id'] } } }, headers);
  }
}
