import { createGraphError, GraphErrorCodes } from './errors';

/**
 * The Graph wire format (JSON of GET /v1.0/users and /v1.0/users/delta) mapped to this product's
 * own types, here and nowhere else.
 */

export type UserPropertyValue = string | number | boolean | null | readonly UserPropertyValue[] | { readonly [key: string]: UserPropertyValue };

export interface DirectoryUser {
  readonly id: string;
  /**
   * The selected properties Graph returned, in the order of the selection, `id` first. /users
   * returns every selected property (null when unset); /users/delta leaves out those never set.
   */
  readonly properties: Readonly<Record<string, UserPropertyValue>>;
  /**
   * The userPrincipalName Graph returned, selected in USER_FIELDS or not: a partitioned read
   * selects it to check that each range holds the names it was asked for (run/range-check.ts).
   */
  readonly principalName?: string;
}

/** A delta entry with `@removed`: `changed` = soft-deleted (restorable for 30 days), `deleted` = gone. */
export interface RemovedUser {
  readonly id: string;
  readonly reason: string;
  /** Graph gave no reason (its `@removed` "may include additional information", reason not promised): read as `deleted`. */
  readonly reasonMissing?: true;
}

export type DirectoryEntry = { readonly kind: 'user'; readonly user: DirectoryUser } | { readonly kind: 'removed'; readonly removed: RemovedUser };

export interface UsersPage {
  /** In the order Graph returned them. */
  readonly entries: readonly DirectoryEntry[];
  /** The whole `@odata.nextLink` URL, to be followed as it is; undefined on the last page. */
  readonly nextLink: string | undefined;
  /** The `@odata.deltaLink` of the last page of a delta walk: where the next walk starts. */
  readonly deltaLink: string | undefined;
  /** `@odata.count`: an advanced query's ($count=true) number of matching users, on its first page; undefined without it. */
  readonly count?: number;
}

export function parseUsersPage(body: unknown, fields: readonly string[]): UsersPage {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { value?: unknown }).value)) {
    throw createGraphError(GraphErrorCodes.graphResponseInvalid, { problem: 'noValue' });
  }
  const wire = body as { value: unknown[]; '@odata.nextLink'?: unknown; '@odata.deltaLink'?: unknown };
  const nextLink = link(wire['@odata.nextLink'], '@odata.nextLink');
  const deltaLink = link(wire['@odata.deltaLink'], '@odata.deltaLink');
  const entries = wire.value.map((item, index) => toEntry(item, fields, index));
  const count = (body as { '@odata.count'?: unknown })['@odata.count'];
  return { entries, nextLink, deltaLink: nextLink === undefined ? deltaLink : undefined, ...(Number.isInteger(count) ? { count: count as number } : {}) };
}

function link(value: unknown, name: string): string | undefined {
  if (value !== undefined && typeof value !== 'string') throw createGraphError(GraphErrorCodes.graphResponseInvalid, { problem: 'linkNotString', name });
  return value === '' ? undefined : value;
}

function toEntry(item: unknown, fields: readonly string[], index: number): DirectoryEntry {
  if (typeof item !== 'object' || item === null) {
    throw createGraphError(GraphErrorCodes.graphResponseInvalid, { problem: 'entryNotObject', index });
  }
  const raw = item as Record<string, unknown>;
  const id = raw['id'];
  if (typeof id !== 'string' || id === '') {
    throw createGraphError(GraphErrorCodes.graphResponseInvalid, { problem: 'entryWithoutId', index });
  }
  const removed = raw['@removed'];
  if (removed !== undefined) {
    const reason = typeof removed === 'object' && removed !== null ? (removed as { reason?: unknown }).reason : undefined;
    // Without a reason the user is gone as far as this walk can tell: `deleted` (a restored user comes back later as a change).
    if (typeof reason !== 'string' || reason === '') return { kind: 'removed', removed: { id, reason: 'deleted', reasonMissing: true } };
    return { kind: 'removed', removed: { id, reason } };
  }
  const properties: Record<string, UserPropertyValue> = {};
  for (const field of fields) {
    if (field === 'id') properties[field] = id;
    else if (field in raw) properties[field] = raw[field] as UserPropertyValue;
  }
  const principalName = raw['userPrincipalName'];
  return { kind: 'user', user: typeof principalName === 'string' ? { id, properties, principalName } : { id, properties } };
}
