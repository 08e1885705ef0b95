import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { churnKind, churnUpdate, type ChurnChange, type ChurnKind } from '../churn';
import { answersGraphRequest, type Fault, type FaultPlan } from '../faults';
import { bearerToken, listen, sendJson, type RunningServer } from '../net';
import type { TlsMaterial } from '../tls';
import { deltaIdFilter, GraphQueryError, type PrincipalNameRanges, type UserFilter } from './graph-filter';
import { withReplays, type DeltaReplays } from './graph-delta-replays';
import { ListingWalks } from './graph-listing';
import { readDeltaSelection, readSelection, readTop, readTransitiveMembersQuery, readUsersQuery, signInActivityDenied, type ListingQuery } from './graph-query';
import { GroupDirectory } from './groups';
import { seedUsers, type SeedUser } from './seed';
import type { SigningKey } from './signing';
import { untrackedByDelta, userProperties, userProperty } from './user-schema';

/**
 * Microsoft Graph's GET /v1.0/users: $select, $top (1-999, Graph's 400 otherwise), opaque
 * @odata.nextLink paging with $skiptoken, bearer-token verification (signature, audience, issuer,
 * expiry) and the User.Read.All application permission (403 Authorization_RequestDenied without it).
 * A list never serves the properties Graph returns only for GET /users/{id} (501 NotImplemented,
 * graph-query.ts); signInActivity needs AuditLog.Read.All (and a licensed tenant:
 * `signInActivityLicensed`), caps $top at 500, and is refused by /users/delta (400).
 * With $filter (graph-filter.ts) or $count and Graph's advanced-query rules (graph-query.ts), the
 * walk is graph-listing.ts's, and so is GET /v1.0/groups/{id}/transitiveMembers/microsoft.graph.user
 * (an advanced query; GroupMember.Read.All; groups from groups.ts, seeded with addGroup, addMember,
 * seedGroup).
 * Faults: the `faults` queue below, and a shared FaultPlan (`plan`) consulted for each page request
 * (a request that passed the token and permission checks), numbered 1, 2, … since it was armed.
 *
 * GET /v1.0/users/delta, as Graph's delta query: a walk of nextLinks (opaque $skiptoken; the
 * selection and page size travel inside it) ending in an @odata.deltaLink (opaque $deltatoken,
 * mapped here to a version of the change log). A deltaLink gives what changed since it was issued:
 * changed or added users with every selected property that is set (only the changed ones under
 * `Prefer: return=minimal`), `@removed` {reason: changed} for soft-deleted and {reason: deleted}
 * for hard-deleted users; a change to an unselected property does not surface the user.
 * `$deltatoken=latest` gives no users and a new deltaLink. An unknown or expired delta token is
 * 400 syncStateNotFound; after resetSync() the next deltaLink request is 410 Gone with a Location
 * holding the delta URL with an empty $deltatoken (a full walk again). Delta pages go through the
 * same faults as /users pages.
 *
 * Delta page size, as Graph's for users: delta does not support $top, which is ignored (neither
 * checked nor used). The server picks the size, 200; a client may ask for smaller pages with
 * `Prefer: odata.maxpagesize=N` (more than 200 gets 200; a value that is not a positive integer is
 * ignored, as an unknown preference is). The request that starts a walk (the first one,
 * `$deltatoken=latest`, or a deltaLink's) fixes the page size for the whole walk: a nextLink
 * request's own preference does not change it. `Preference-Applied` lists, joined by ', ', what a
 * page honoured: `return=minimal` when asked for, and `odata.maxpagesize=N` when the request asked
 * for a page size and its page has it (N the size in use: 200 when it asked for more; left out
 * when the walk's size is not what this request asked for).
 */

const readRoles = ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'];
/** Application permissions that let an app read group members (GroupMember.Read.All is the least privileged). */
const groupMemberRoles = [
  'GroupMember.Read.All',
  'Group.Read.All',
  'Directory.Read.All',
  'GroupMember.ReadWrite.All',
  'Group.ReadWrite.All',
  'Directory.ReadWrite.All',
];
const transitiveUsersPath = /^\/v1\.0\/groups\/([^/]+)\/transitiveMembers\/microsoft\.graph\.user$/;
/** Graph's answer to a skip token (page link) it no longer honours: code and message. */
const expiredPageToken = ['Directory_ExpiredPageToken', 'The specified page token value has expired and can no longer be included in your request.'] as const;
/** Graph's page size for a users delta walk, and the most `odata.maxpagesize` gets. */
const deltaMaxPageSize = 200;

/** What the next requests get, in order, before normal handling: throttling, an outage, an empty page, or a normal answer (`pass`). */
export type GraphFault = { status: number; retryAfterSeconds?: number } | { emptyPage: true } | { pass: true };

/** A user as the change log keeps it: versions are those of the change log (see GraphStandIn). */
interface DirectoryRecord {
  user: SeedUser;
  state: 'active' | 'soft-deleted' | 'hard-deleted';
  /** Version at which the user (re)appeared: added, or restored. */
  appearedAt: number;
  /** Version at which the user was added. */
  addedAt: number;
  /** Version at which each property last changed. */
  changedAt: Map<string, number>;
  /** Version of the last soft or hard deletion. */
  removedAt: number;
  /** Version of the last change of any kind. */
  lastChange: number;
}

/** What a delta token stands for: the change log's version, and the selection (and id filter) of the walk that issued it. */
interface DeltaState {
  version: number;
  fields: readonly string[];
  select: string | null;
  /** $filter (id eq … or …): only these users, ids lowercased. */
  filter?: { text: string; ids: ReadonlySet<string> };
}

/** A delta walk under way: all its entries, computed when it started, and its page size. */
interface DeltaWalk {
  entries: Record<string, unknown>[];
  state: DeltaState;
  pageSize: number;
}

/** The preferences of a request's `Prefer` header that delta honours. */
interface DeltaPreferences {
  minimal: boolean;
  /** A positive integer, as asked for (not yet capped); undefined when not asked for or not valid. */
  maxPageSize: number | undefined;
}

/**
 * Reads `Prefer` (RFC 7240): comma-separated preferences, each `name` or `name=value` with optional
 * `;parameters` (not used here); names are case-insensitive, a value may be quoted, and the first
 * occurrence of a name counts. Node joins repeated Prefer headers with ', ', so one list covers them.
 */
function deltaPreferences(header: string | string[] | undefined): DeltaPreferences {
  const found = new Map<string, string>();
  for (const item of [header ?? []].flat().join(',').split(',')) {
    const [preference = ''] = item.split(';');
    const eq = preference.indexOf('=');
    const name = (eq < 0 ? preference : preference.slice(0, eq)).trim().toLowerCase();
    if (name === '' || found.has(name)) continue;
    found.set(
      name,
      eq < 0
        ? ''
        : preference
            .slice(eq + 1)
            .trim()
            .replace(/^"(.*)"$/, '$1'),
    );
  }
  const size = Number(found.get('odata.maxpagesize') ?? Number.NaN);
  return {
    minimal: found.get('return')?.toLowerCase() === 'minimal',
    maxPageSize: Number.isInteger(size) && size >= 1 ? size : undefined,
  };
}

function setProperties(user: SeedUser, fields: readonly string[]): Record<string, unknown> {
  const entry: Record<string, unknown> = {};
  for (const f of fields) {
    const value = (user as unknown as Record<string, unknown>)[f];
    if (value !== null && value !== undefined) entry[f] = value;
  }
  entry.id = user.id;
  return entry;
}

export interface GraphOptions {
  tls: TlsMaterial;
  signingKey: SigningKey;
  issuer: string;
  tenantId: string;
  users?: SeedUser[];
  plan?: FaultPlan;
}

export class GraphStandIn {
  readonly faults: GraphFault[] = [];
  /** The shared fault plan, consulted before the `faults` queue. */
  plan: FaultPlan | undefined;
  /**
   * requests: all; pageRequests: those that reached paging; pages: whole pages served;
   * throttled: error statuses injected (either way); faultsInjected: hits from the plan.
   */
  readonly counters = { requests: 0, pageRequests: 0, pages: 0, throttled: 0, faultsInjected: 0 };
  /**
   * Added latency of every page answered (npm run bench's azure model): this many milliseconds for a
   * page of 999 entries, proportionally less for a smaller one (a delta page of 200: a fifth). 0: none.
   */
  pageLatencyMsPer999 = 0;
  /**
   * The most users a page holds, whatever $top or Prefer asks: undefined (default) serves what was
   * asked. Graph's page sizes are its own (paging.md: "the number of results ... in a single page
   * depends on the API and the query being performed", and a page may hold fewer than $top), so a
   * client must follow @odata.nextLink and never count on a page's size; tests use a small cap to
   * have several pages from a few hundred users.
   */
  usersPageCap: number | undefined = undefined;
  /** The tenant has a Microsoft Entra ID P1 or P2 license: signInActivity can be read (false: Graph's 403 for it). */
  signInActivityLicensed = true;
  /** How `ge`/`le` on userPrincipalName is answered (graph-filter.ts PrincipalNameRanges): honoured, refused (400), or ignored. */
  principalNameRanges: PrincipalNameRanges = 'honoured';
  /**
   * Called for each page request (one that passed the token and permission checks; `request` is
   * counters.pageRequests with it) before it is answered: a test changes the directory here, as
   * Graph's directory changes while a client pages. The URL is as received.
   */
  beforePage: ((request: number, url: string) => void) | undefined;
  /** The URLs requested, as received (for tests that check the nextLink was followed whole). */
  readonly requestLog: string[] = [];
  /** Every @odata.nextLink handed out. */
  readonly issuedNextLinks: string[] = [];
  /** Every @odata.deltaLink handed out. */
  readonly issuedDeltaLinks: string[] = [];
  readonly #skipTokens = new Map<string, number>();
  readonly #deltaSkipTokens = new Map<string, { walk: DeltaWalk; offset: number }>();
  readonly #deltaTokens = new Map<string, DeltaState>();
  readonly #listings = new ListingWalks(this.issuedNextLinks);
  readonly #groups = new GroupDirectory();
  /** The directory and its change log: every user ever seen here, deleted ones too, in order. */
  readonly #records = new Map<string, DirectoryRecord>();
  #version = 0;
  #active: SeedUser[] | undefined;
  #resetPending: { readonly on: 'deltaLink' | 'nextLink'; readonly location: boolean } | undefined;
  /** How often each $skiptoken was asked for: a second time is a retry (retriedPageTokensFail). */
  readonly #skipTokenRequests = new Map<string, number>();
  /** Page tokens handed out in answer to a retried request (retriedPageTokensFail). */
  readonly #retryTokens = new Set<string>();
  /**
   * Replays in changes walks (graph-delta-replays.ts): the same user twice, a removal before an
   * update of the same user, an earlier state before a removal, a removal twice. Off by default.
   */
  deltaReplays = false;
  /** The replays of the last changes walk started with deltaReplays on. */
  lastReplays: DeltaReplays | undefined;
  /**
   * paging-error-handling.md: a page token from the answer to a retried request is not guaranteed to
   * be valid ("don't use tokens from retry operations for subsequent page requests"). When on, a
   * delta page asked for a second time (a retry after a failure or a lost answer) carries a nextLink
   * whose token is answered with 400 DirectoryPageTokenNotFoundException.
   */
  retriedPageTokensFail = false;
  #server: RunningServer | undefined;

  constructor(private readonly options: GraphOptions) {
    this.#load(options.users ?? []);
    this.plan = options.plan;
  }

  /** The users /users lists now: neither soft- nor hard-deleted, in directory order. */
  get users(): readonly SeedUser[] {
    this.#active ??= [...this.#records.values()].filter((r) => r.state === 'active').map((r) => r.user);
    return this.#active;
  }

  /** The change log's current version (each mutation adds one). */
  get version(): number {
    return this.#version;
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

  /**
   * New users (a new directory, without groups). Skip tokens already handed out stay valid (as
   * Graph's do while a directory changes); delta tokens issued before do not (400 syncStateNotFound).
   */
  seed(count: number, seed?: number): SeedUser[] {
    const users = seedUsers(count, seed);
    this.#load(users);
    return users;
  }

  /** Forgets every skip token handed out so far (/users and /users/delta): 400 Directory_ExpiredPageToken from now on. */
  expireSkipTokens(): void {
    this.#skipTokens.clear();
    this.#deltaSkipTokens.clear();
    this.#listings.clear();
  }

  /** Forgets every delta token handed out so far: 400 syncStateNotFound from now on. */
  expireDeltaTokens(): void {
    this.#deltaTokens.clear();
  }

  /**
   * A sync reset (delta-query-overview.md: 410 Gone, "Resync required", after tenant maintenance):
   * the next request of a deltaLink (any $deltatoken but an empty one; `on: 'nextLink'`: of a delta
   * nextLink, mid-walk) gets 410 Gone, with a Location holding the delta URL with an empty
   * $deltatoken unless `location` is false (the doc's Location is not promised on every 410).
   */
  resetSync(options: { on?: 'deltaLink' | 'nextLink'; location?: boolean } = {}): void {
    this.#resetPending = { on: options.on ?? 'deltaLink', location: options.location ?? true };
  }

  /** Adds a user (a seed-like one, with `partial` over it; a new id unless given) and returns it. */
  addUser(partial: Partial<SeedUser> = {}): SeedUser {
    const [base] = seedUsers(1, randomInt(1, 2 ** 31 - 1));
    if (base === undefined) throw new Error('seedUsers gave no user');
    const suffix = randomBytes(3).toString('hex');
    const user: SeedUser = {
      ...base,
      userPrincipalName: base.userPrincipalName.replace('@', `.${suffix}@`),
      mail: base.mail === null ? null : base.mail.replace('@', `.${suffix}@`),
      createdDateTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      ...partial,
      id: partial.id ?? randomUUID(),
    };
    if (this.#records.has(user.id) || this.#groups.has(user.id)) throw new Error(`User ${user.id} exists already`);
    const version = this.#bump();
    this.#records.set(user.id, { user, state: 'active', appearedAt: version, addedAt: version, changedAt: new Map(), removedAt: 0, lastChange: version });
    return user;
  }

  /** Changes an active user's properties (id cannot change); properties set to their current value are no change. */
  updateUser(id: string, changes: Partial<Omit<SeedUser, 'id'>>): SeedUser {
    const record = this.#record(id, 'active');
    const changed = Object.entries(changes).filter(
      ([name, value]) =>
        name !== 'id' &&
        userProperties.has(name) &&
        JSON.stringify(value ?? null) !== JSON.stringify((record.user as unknown as Record<string, unknown>)[name] ?? null),
    );
    if (changed.length === 0) return record.user;
    const version = this.#bump();
    record.user = { ...record.user, ...Object.fromEntries(changed) };
    for (const [name] of changed) record.changedAt.set(name, version);
    record.lastChange = version;
    return record.user;
  }

  /** Soft-deletes an active user (to deletedItems: restorable; delta says @removed reason "changed"). */
  softDeleteUser(id: string): void {
    const record = this.#record(id, 'active');
    record.state = 'soft-deleted';
    record.removedAt = record.lastChange = this.#bump();
  }

  /** Restores a soft-deleted user: delta gives it again as a change, with all its properties. */
  restoreUser(id: string): SeedUser {
    const record = this.#record(id, 'soft-deleted');
    record.state = 'active';
    record.appearedAt = record.lastChange = this.#bump();
    return record.user;
  }

  /** Deletes an active or soft-deleted user for good (delta says @removed reason "deleted"). */
  hardDeleteUser(id: string): void {
    const record = this.#records.get(id);
    if (record === undefined || record.state === 'hard-deleted') throw new Error(`No user ${id} to hard-delete`);
    record.state = 'hard-deleted';
    record.removedAt = record.lastChange = this.#bump();
    this.#groups.removeEverywhere(id);
  }

  /** A new empty group (a new id unless given); returns its id. Groups are not users: no change to the change log. */
  addGroup(options: { id?: string; displayName?: string } = {}): string {
    if (options.id !== undefined && this.#records.has(options.id)) throw new Error(`${options.id} is a user`);
    return this.#groups.add(options);
  }

  /**
   * Adds an active user or a group to a group. Nesting may make cycles; listings visit each group
   * once. A member soft-deleted later stays a member (listed again once restored); a user deleted
   * for good leaves every group.
   */
  addMember(groupId: string, memberId: string): void {
    if (!this.#groups.has(memberId) && this.#records.get(memberId)?.state !== 'active') throw new Error(`No active user or group ${memberId}`);
    this.#groups.addMember(groupId, memberId);
  }

  removeMember(groupId: string, memberId: string): void {
    this.#groups.removeMember(groupId, memberId);
  }

  /** The users the group's transitive members listing gives now: distinct, active, in directory order. */
  transitiveUserIds(groupId: string): string[] {
    return this.#listedIds(undefined, this.#groups.transitiveMemberIds(groupId));
  }

  /**
   * A group of `userIds` in two levels: a parent group holding a nested child group with the first
   * `nestedSplit` users (default half of them) and the rest directly. Returns both ids.
   */
  seedGroup(userIds: readonly string[], options: { nestedSplit?: number; displayName?: string } = {}): { groupId: string; childGroupId: string } {
    const split = options.nestedSplit ?? Math.floor(userIds.length / 2);
    if (!Number.isInteger(split) || split < 0 || split > userIds.length)
      throw new RangeError(`nestedSplit must be a whole number from 0 to ${userIds.length}, not ${split}`);
    const displayName = options.displayName ?? 'Sync scope';
    const groupId = this.addGroup({ displayName });
    const childGroupId = this.addGroup({ displayName: `${displayName} (nested)` });
    this.addMember(groupId, childGroupId);
    userIds.forEach((id, i) => this.addMember(i < split ? childGroupId : groupId, id));
    return { groupId, childGroupId };
  }

  /**
   * Makes `changes` random changes with the methods above and returns them in order: about 30%
   * updates (one or two of jobTitle, department, displayName, mobilePhone, officeLocation, each to
   * another value), 25% adds, 20% soft deletes, 10% restores (an update when no user is left to
   * restore), 15% hard deletes (of an active or a soft-deleted user). No user is changed twice in
   * one call, those it adds included, so that each change shows on its own in the next delta; when
   * no active user is left to change, it only adds. The kinds, the users and the new values come
   * from `random` (see churn.ts; use seed.ts's prng for repeatable churn); an added user's id and
   * properties are addUser's own.
   */
  churn(changes: number, random: () => number): ChurnChange[] {
    if (!Number.isInteger(changes) || changes < 0) throw new RangeError(`churn needs a whole number of changes, not ${changes}`);
    const touched = new Set<string>();
    const untouched = (...states: DirectoryRecord['state'][]): DirectoryRecord[] =>
      [...this.#records.values()].filter((r) => states.includes(r.state) && !touched.has(r.user.id));
    /** One of the untouched users in `states` (there is one: the kind was chosen so), now touched. */
    const take = (...states: DirectoryRecord['state'][]): DirectoryRecord => {
      const candidates = untouched(...states);
      const record = candidates[Math.floor(random() * candidates.length)];
      if (record === undefined) throw new Error(`churn: no ${states.join(' or ')} user left to change`);
      touched.add(record.user.id);
      return record;
    };
    const made: ChurnChange[] = [];
    for (let i = 0; i < changes; i++) {
      let kind: ChurnKind = untouched('active').length === 0 ? 'added' : churnKind(random);
      if (kind === 'restored' && untouched('soft-deleted').length === 0) kind = 'updated';
      switch (kind) {
        case 'added': {
          const user = this.addUser();
          touched.add(user.id);
          made.push({ kind, id: user.id });
          break;
        }
        case 'updated': {
          const { user } = take('active');
          const update = churnUpdate(user, random);
          this.updateUser(user.id, update);
          made.push({ kind, id: user.id, fields: Object.keys(update) });
          break;
        }
        case 'softDeleted': {
          const { user } = take('active');
          this.softDeleteUser(user.id);
          made.push({ kind, id: user.id });
          break;
        }
        case 'restored': {
          const { user } = take('soft-deleted');
          this.restoreUser(user.id);
          made.push({ kind, id: user.id });
          break;
        }
        case 'hardDeleted': {
          const { user } = take('active', 'soft-deleted');
          this.hardDeleteUser(user.id);
          made.push({ kind, id: user.id });
          break;
        }
      }
    }
    return made;
  }

  #load(users: readonly SeedUser[]): void {
    this.#records.clear();
    this.#deltaTokens.clear();
    this.#groups.clear();
    const version = this.#bump();
    for (const user of users)
      this.#records.set(user.id, { user, state: 'active', appearedAt: version, addedAt: version, changedAt: new Map(), removedAt: 0, lastChange: version });
  }

  #bump(): number {
    this.#active = undefined;
    return ++this.#version;
  }

  #record(id: string, state: DirectoryRecord['state']): DirectoryRecord {
    const record = this.#records.get(id);
    if (record?.state !== state) throw new Error(`No ${state} user ${id}`);
    return record;
  }

  /** Active users' ids in directory order: those in `members` (all without it) that match `filter` (all without it). */
  #listedIds(filter: UserFilter | undefined, members?: ReadonlySet<string>): string[] {
    const ids: string[] = [];
    for (const user of this.users) if ((members === undefined || members.has(user.id)) && (filter === undefined || filter.matches(user))) ids.push(user.id);
    return ids;
  }

  /** What a deltaLink issued at `since` gets now, in directory order (only the users in `ids`, lowercased, when given). */
  #changesSince(since: number, fields: readonly string[], minimal: boolean, ids?: ReadonlySet<string>): Record<string, unknown>[] {
    const entries: Record<string, unknown>[] = [];
    for (const record of this.#records.values()) {
      if (record.lastChange <= since) continue;
      if (ids !== undefined && !ids.has(record.user.id.toLowerCase())) continue;
      if (record.state !== 'active') {
        // Removed since the link: report it if the holder of the link could have seen the user.
        const seen = record.addedAt <= since;
        if (seen && record.removedAt > since)
          entries.push({ id: record.user.id, '@removed': { reason: record.state === 'soft-deleted' ? 'changed' : 'deleted' } });
        continue;
      }
      if (record.appearedAt > since) {
        entries.push(setProperties(record.user, fields));
        continue;
      }
      // A change to a property delta does not track never surfaces the user (its value still comes with other changes).
      const changed = fields.filter((f) => !untrackedByDelta.has(f) && (record.changedAt.get(f) ?? 0) > since);
      if (changed.length === 0) continue;
      if (!minimal) {
        // Every selected property, never-set ones left out; but one cleared since the link comes as null
        // (delta-query-overview.md: changed properties come with their new value, null included).
        const cleared = changed.filter((f) => ((record.user as unknown as Record<string, unknown>)[f] ?? null) === null);
        entries.push({ ...setProperties(record.user, fields), ...Object.fromEntries(cleared.map((f) => [f, null])) });
        continue;
      }
      const entry: Record<string, unknown> = Object.fromEntries(changed.map((f) => [f, (record.user as unknown as Record<string, unknown>)[f] ?? null]));
      entry.id = record.user.id;
      entries.push(entry);
    }
    return entries;
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
    if (verified.claims.tid !== this.options.tenantId)
      return this.#error(res, 401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid tenant.', headers);

    const path = url.pathname.replace(/\/$/, '');
    const group = transitiveUsersPath.exec(path);
    if (req.method !== 'GET' || (path !== '/v1.0/users' && path !== '/v1.0/users/delta' && group === null)) {
      return this.#error(res, 400, 'BadRequest', `Resource not found for the segment '${url.pathname.split('/').at(-1) ?? ''}'.`, headers);
    }
    if (!(verified.claims.roles ?? []).some((r) => (group === null ? readRoles : groupMemberRoles).includes(r))) {
      return this.#error(res, 403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.', headers);
    }
    const auditDenied = signInActivityDenied(url, verified.claims.roles ?? [], this.signInActivityLicensed);
    if (auditDenied !== undefined) return this.#error(res, 403, ...auditDenied, headers);

    this.counters.pageRequests++;
    const asked = url.searchParams.get('$skiptoken');
    if (asked !== null) this.#skipTokenRequests.set(asked, (this.#skipTokenRequests.get(asked) ?? 0) + 1);
    this.beforePage?.(this.counters.pageRequests, req.url ?? '');
    const hits = this.plan?.take('graph') ?? [];
    this.counters.faultsInjected += hits.length;
    if (hits.some((h) => h.name === 'graph-expire-links')) this.expireSkipTokens();
    const injected = hits.find((h) => answersGraphRequest(h.name));
    if (injected !== undefined && this.#answerWithoutPage(res, injected, headers)) return;

    const fault = injected === undefined ? this.faults.shift() : undefined;
    if (fault !== undefined && 'status' in fault) {
      this.counters.throttled++;
      const extra: Record<string, string> = fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
      const [code, text] =
        fault.status === 429
          ? ['TooManyRequests', 'Too many requests.']
          : fault.status >= 500
            ? ['ServiceUnavailable', 'The service is temporarily unavailable.']
            : expiredPageToken;
      return this.#error(res, fault.status, code, text, { ...headers, ...extra });
    }

    const pageHeaders = { ...headers, 'content-type': 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8' };
    const send = (body: Record<string, unknown>, extra: Record<string, string> = {}): void => {
      if (injected !== undefined) return this.#answerBroken(res, injected, body, { ...pageHeaders, ...extra });
      this.counters.pages++;
      const entries = Array.isArray(body['value']) ? body['value'].length : 0;
      const delay = (this.pageLatencyMsPer999 * entries) / 999;
      if (delay <= 0) return sendJson(res, 200, body, { ...pageHeaders, ...extra });
      setTimeout(() => sendJson(res, 200, body, { ...pageHeaders, ...extra }), delay);
    };
    const empty = fault !== undefined && 'emptyPage' in fault;
    try {
      if (group !== null) return this.#transitiveUsersPage(res, url, path, group[1] ?? '', req.headers.consistencylevel, empty, headers, send);
      if (path === '/v1.0/users/delta') {
        const { fields, select } = readDeltaSelection(url);
        const filterText = url.searchParams.get('$filter');
        const filter = filterText === null ? undefined : { text: filterText, ids: deltaIdFilter(filterText) };
        // $top is not supported on delta, so not even checked: the page size comes from Prefer.
        return this.#deltaPage(res, url, { version: this.#version, fields, select, filter }, deltaPreferences(req.headers.prefer), empty, headers, send);
      }
      if (url.searchParams.has('$filter') || url.searchParams.has('$count')) {
        const query = readUsersQuery(url, req.headers.consistencylevel, this.principalNameRanges);
        return this.#listingPage(res, url, path, query, () => this.#listedIds(query.filter), empty, headers, send);
      }
      this.#usersPage(res, url, empty, headers, send);
    } catch (error) {
      if (!(error instanceof GraphQueryError)) throw error;
      this.#error(res, error.status, error.code, error.message, headers);
    }
  }

  /** A page of a group's transitive user members (an advanced query), or Graph's 404 for an unknown group. */
  #transitiveUsersPage(
    res: ServerResponse,
    url: URL,
    path: string,
    encodedId: string,
    consistencyLevel: string | string[] | undefined,
    empty: boolean,
    headers: Record<string, string>,
    send: (body: Record<string, unknown>) => void,
  ): void {
    const query = readTransitiveMembersQuery(url, consistencyLevel);
    let groupId = encodedId;
    try {
      groupId = decodeURIComponent(encodedId);
    } catch {
      // Not a valid escape: looked up as it is, so not found.
    }
    if (!this.#groups.has(groupId))
      return this.#error(
        res,
        404,
        'Request_ResourceNotFound',
        `Resource '${groupId}' does not exist or one of its queried reference-property objects are not present.`,
        headers,
      );
    this.#listingPage(res, url, path, query, () => this.#listedIds(query.filter, this.#groups.transitiveMemberIds(groupId)), empty, headers, send);
  }

  /** A page size, at most usersPageCap. */
  #capped(size: number): number {
    return this.usersPageCap === undefined ? size : Math.min(size, this.usersPageCap);
  }

  /** A page of a filtered or counted listing (graph-listing.ts). */
  #listingPage(
    res: ServerResponse,
    url: URL,
    path: string,
    query: ListingQuery,
    ids: () => readonly string[],
    empty: boolean,
    headers: Record<string, string>,
    send: (body: Record<string, unknown>) => void,
  ): void {
    const body = this.#listings.page({
      baseUrl: this.url,
      path,
      query: { ...query, top: this.#capped(query.top) },
      skipToken: url.searchParams.get('$skiptoken'),
      ids,
      user: (id) => this.#listable(id),
      empty,
    });
    if (body === undefined) return this.#error(res, 400, ...expiredPageToken, headers);
    send(body);
  }

  /** An active user by id; undefined when there is none (deleted, or never there). */
  #listable(id: string): SeedUser | undefined {
    const record = this.#records.get(id);
    return record?.state === 'active' ? record.user : undefined;
  }

  /** A page of the plain /users walk (no $filter, no $count): an offset into the live directory. */
  #usersPage(res: ServerResponse, url: URL, empty: boolean, headers: Record<string, string>, send: (body: Record<string, unknown>) => void): void {
    const { fields, select } = readSelection(url);
    const { top, topText } = readTop(url, fields);
    let offset = 0;
    const skipToken = url.searchParams.get('$skiptoken');
    if (skipToken !== null) {
      const known = this.#skipTokens.get(skipToken);
      if (known === undefined) return this.#error(res, 400, ...expiredPageToken, headers);
      offset = known;
    }

    const users = this.users;
    const slice = empty ? [] : users.slice(offset, offset + this.#capped(top));
    const nextOffset = offset + slice.length;
    const body: Record<string, unknown> = {
      '@odata.context': `${this.url}/v1.0/$metadata#users(${fields.join(',')})`,
      value: slice.map((u) => Object.fromEntries(fields.map((f) => [f, userProperty(u, f) ?? null]))),
    };
    if (nextOffset < users.length) {
      const next = `RFNwdAIAAQAAA${randomBytes(24).toString('base64url')}`;
      this.#skipTokens.set(next, nextOffset);
      const query = [select === null ? undefined : `$select=${select}`, topText === null ? undefined : `$top=${topText}`, `$skiptoken=${next}`].filter(
        (q) => q !== undefined,
      );
      const link = `${this.url}/v1.0/users?${query.join('&')}`;
      this.issuedNextLinks.push(link);
      body['@odata.nextLink'] = link;
    }
    send(body);
  }

  /** 410 Gone for a sync reset (resetSync), once: with a Location of the walk's delta URL and an empty $deltatoken, or without one. */
  #gone(res: { error: (status: number, code: string, message: string, extra?: Record<string, string>) => void }, from: DeltaState, location: boolean): void {
    this.#resetPending = undefined;
    const query = [
      from.select === null ? undefined : `$select=${from.select}`,
      from.filter === undefined ? undefined : `$filter=${encodeURIComponent(from.filter.text)}`,
      '$deltatoken=',
    ].filter((q) => q !== undefined);
    res.error(
      410,
      'resyncRequired',
      'Resync required. Replace any local cached data with the data returned by a full sync (a new delta query without a delta token).',
      location ? { location: `${this.url}/v1.0/users/delta?${query.join('&')}` } : {},
    );
  }

  /** A changes walk's entries, with Graph's documented replays around them when deltaReplays is on. */
  #replayed(entries: Record<string, unknown>[], fields: readonly string[]): Record<string, unknown>[] {
    if (!this.deltaReplays) return entries;
    const replayed = withReplays(entries, (id) => {
      const record = this.#records.get(id);
      return record === undefined ? undefined : setProperties(record.user, fields);
    });
    this.lastReplays = replayed.replays;
    return replayed.entries;
  }

  /**
   * One page of /users/delta. `requested` is the selection of this request's query (used when it
   * starts a walk; a deltaLink's $deltatoken carries the selection of the walk that issued it) and
   * `prefer` its preferences: the page size of a walk is that of the request starting it (a first
   * request, `$deltatoken=latest`, a deltaLink's); a $skiptoken carries the walk, page size included.
   */
  #deltaPage(
    response: ServerResponse,
    url: URL,
    requested: DeltaState,
    prefer: DeltaPreferences,
    empty: boolean,
    headers: Record<string, string>,
    send: (body: Record<string, unknown>, extra?: Record<string, string>) => void,
  ): void {
    const res = {
      error: (status: number, code: string, message: string, extra: Record<string, string> = {}): void =>
        this.#error(response, status, code, message, { ...headers, ...extra }),
    };
    const { minimal } = prefer;
    const pageSize = this.#capped(Math.min(prefer.maxPageSize ?? deltaMaxPageSize, deltaMaxPageSize));
    let walk: DeltaWalk;
    let offset = 0;
    const skipToken = url.searchParams.get('$skiptoken');
    const deltaToken = url.searchParams.get('$deltatoken');
    if (skipToken !== null) {
      if (this.#retryTokens.has(skipToken))
        return res.error(
          400,
          'DirectoryPageTokenNotFoundException',
          'The page token from a retried request was not found. Request the next page with the link of the last successful response.',
        );
      const known = this.#deltaSkipTokens.get(skipToken);
      if (known === undefined) return res.error(400, ...expiredPageToken);
      if (this.#resetPending?.on === 'nextLink') return this.#gone(res, known.walk.state, this.#resetPending.location);
      ({ walk, offset } = known);
    } else if (deltaToken === null || deltaToken === '') {
      walk = { entries: this.#changesSince(0, requested.fields, false, requested.filter?.ids), state: requested, pageSize };
    } else if (deltaToken === 'latest') {
      walk = { entries: [], state: requested, pageSize };
    } else {
      const state = this.#deltaTokens.get(deltaToken);
      if (this.#resetPending?.on === 'deltaLink') return this.#gone(res, state ?? requested, this.#resetPending.location);
      if (state === undefined)
        return res.error(400, 'syncStateNotFound', 'The sync state generation is not found or has expired. Start a new sync without a delta token.');
      walk = {
        entries: this.#replayed(this.#changesSince(state.version, state.fields, minimal, state.filter?.ids), state.fields),
        state: { ...state, version: this.#version },
        pageSize,
      };
    }

    const slice = empty ? [] : walk.entries.slice(offset, offset + walk.pageSize);
    const nextOffset = offset + slice.length;
    const body: Record<string, unknown> = { '@odata.context': `${this.url}/v1.0/$metadata#users(${walk.state.fields.join(',')})`, value: slice };
    if (nextOffset < walk.entries.length) {
      const next = randomBytes(32).toString('base64url');
      this.#deltaSkipTokens.set(next, { walk, offset: nextOffset });
      if (this.retriedPageTokensFail && skipToken !== null && (this.#skipTokenRequests.get(skipToken) ?? 0) > 1) this.#retryTokens.add(next);
      const link = `${this.url}/v1.0/users/delta?$skiptoken=${next}`;
      this.issuedNextLinks.push(link);
      body['@odata.nextLink'] = link;
    } else {
      const token = randomBytes(32).toString('base64url');
      this.#deltaTokens.set(token, walk.state);
      const link = `${this.url}/v1.0/users/delta?$deltatoken=${token}`;
      this.issuedDeltaLinks.push(link);
      body['@odata.deltaLink'] = link;
    }
    const applied = [
      ...(minimal ? ['return=minimal'] : []),
      ...(prefer.maxPageSize !== undefined && pageSize === walk.pageSize ? [`odata.maxpagesize=${walk.pageSize}`] : []),
    ];
    send(body, applied.length === 0 ? {} : { 'preference-applied': applied.join(', ') });
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
    sendJson(
      res,
      status,
      {
        error: {
          code,
          message,
          innerError: {
            date: new Date().toISOString().replace(/\.\d+Z$/, ''),
            'request-id': headers['request-id'],
            'client-request-id': headers['client-request-id'],
          },
        },
      },
      headers,
    );
  }
}
