import { randomBytes } from 'node:crypto';
import { nextLinkQuery, type ListingQuery } from './graph-query';
import type { SeedUser } from './seed';
import { userProperty } from './user-schema';

/**
 * The users listings of the Graph stand-in other than the plain /users walk: a filtered or counted
 * /users, and a group's transitive members. The first request of a walk fixes the ids it lists (the
 * filter is evaluated, a group's members are resolved, once), and each nextLink's opaque $skiptoken
 * keeps the walk and where it is; so a page costs its own size, however many pages there are. A
 * user deleted after the walk started is left out of the pages still to come; @odata.count (on
 * every page of an advanced query) is the number the walk started with.
 */

interface ListingWalk {
  ids: readonly string[];
}

export interface ListingRequest {
  /** The stand-in's base URL and the request's path: the nextLink is `${baseUrl}${path}?…`. */
  baseUrl: string;
  path: string;
  query: ListingQuery;
  skipToken: string | null;
  /** The ids a new walk lists, in directory order (called only when the request starts a walk). */
  ids: () => readonly string[];
  /** A user that can still be listed; undefined for one deleted since. */
  user: (id: string) => SeedUser | undefined;
  /** Answer an empty page (a fault), keeping the walk where it is. */
  empty: boolean;
}

export class ListingWalks {
  readonly #skipTokens = new Map<string, { walk: ListingWalk; offset: number }>();
  /** Every @odata.nextLink handed out (shared with the stand-in's other listings). */
  constructor(private readonly issuedNextLinks: string[]) {}

  /** The page's body; undefined when the $skiptoken is unknown or expired. */
  page(request: ListingRequest): Record<string, unknown> | undefined {
    const { query } = request;
    let walk: ListingWalk;
    let offset = 0;
    if (request.skipToken === null) {
      walk = { ids: request.ids() };
    } else {
      const known = this.#skipTokens.get(request.skipToken);
      if (known === undefined) return undefined;
      ({ walk, offset } = known);
    }
    const slice = request.empty ? [] : walk.ids.slice(offset, offset + query.top);
    const nextOffset = offset + slice.length;
    const value: Record<string, unknown>[] = [];
    for (const id of slice) {
      const user = request.user(id);
      if (user !== undefined) value.push(Object.fromEntries(query.fields.map((f) => [f, userProperty(user, f) ?? null])));
    }
    const body: Record<string, unknown> = { '@odata.context': `${request.baseUrl}/v1.0/$metadata#users(${query.fields.join(',')})` };
    if (query.count) body['@odata.count'] = walk.ids.length;
    body['value'] = value;
    if (nextOffset < walk.ids.length) {
      const token = `RFNwdAIAAQAAA${randomBytes(24).toString('base64url')}`;
      this.#skipTokens.set(token, { walk, offset: nextOffset });
      const link = `${request.baseUrl}${request.path}?${nextLinkQuery(query, token)}`;
      this.issuedNextLinks.push(link);
      body['@odata.nextLink'] = link;
    }
    return body;
  }

  /** Forgets every skip token handed out so far. */
  clear(): void {
    this.#skipTokens.clear();
  }
}
