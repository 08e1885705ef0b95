import { SyncError, SyncErrorCodes } from './errors';

/**
 * The Graph wire format (JSON of GET /v1.0/users) mapped to this product's own types, here and
 * nowhere else.
 */

export type UserPropertyValue = string | number | boolean | null | readonly UserPropertyValue[] | { readonly [key: string]: UserPropertyValue };

export interface DirectoryUser {
  readonly id: string;
  /** Exactly the selected properties, `id` first; a property Graph left out is null. */
  readonly properties: Readonly<Record<string, UserPropertyValue>>;
}

export interface UsersPage {
  readonly users: readonly DirectoryUser[];
  /** The whole `@odata.nextLink` URL, to be followed as it is; undefined on the last page. */
  readonly nextLink: string | undefined;
}

export function parseUsersPage(body: unknown, fields: readonly string[]): UsersPage {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { value?: unknown }).value)) {
    throw new SyncError(SyncErrorCodes.graphResponseInvalid, 'Graph answered GET /users without a "value" array: check GRAPH_BASE_URL points at Microsoft Graph.');
  }
  const wire = body as { value: unknown[]; '@odata.nextLink'?: unknown };
  const nextLink = wire['@odata.nextLink'];
  if (nextLink !== undefined && typeof nextLink !== 'string') {
    throw new SyncError(SyncErrorCodes.graphResponseInvalid, 'Graph answered GET /users with an @odata.nextLink that is not a string.');
  }
  const users = wire.value.map((item, index) => toDirectoryUser(item, fields, index));
  return { users, nextLink: nextLink === '' ? undefined : nextLink };
}

function toDirectoryUser(item: unknown, fields: readonly string[], index: number): DirectoryUser {
  if (typeof item !== 'object' || item === null) {
    throw new SyncError(SyncErrorCodes.graphResponseInvalid, `Graph returned a user entry that is not an object (position ${index} of its page).`);
  }
  const raw = item as Record<string, unknown>;
  const id = raw['id'];
  if (typeof id !== 'string' || id === '') {
    throw new SyncError(SyncErrorCodes.graphResponseInvalid, `Graph returned a user without an id (position ${index} of its page).`);
  }
  const properties: Record<string, UserPropertyValue> = {};
  for (const field of fields) properties[field] = field === 'id' ? id : ((raw[field] ?? null) as UserPropertyValue);
  return { id, properties };
}
