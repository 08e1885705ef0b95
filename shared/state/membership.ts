import type { ContainerClient } from '@azure/storage-blob';
import { describeCause, SyncError } from '../core';
import { createGraphError, GraphErrorCodes } from '../graph';
import { createStateError, type StateAction, StateErrorCodes } from './errors';
import { ensureContainer } from '../storage';

/**
 * The member ids of SYNC_GROUP_ID as a delta run saw them, kept between runs so that the next one
 * can tell who joined (sent as user.upserted) and who left (user.removed, reason outOfScope):
 * Graph's /users/delta never shows a membership change.
 *
 * One blob per reading, in the run state's container, named by the checkpoint that uses it
 * (`<queue>.members.<runId>.<attempt>.bin`): a run saves its reading before it walks, and the
 * checkpoint that finishes the run makes it the committed one, in the same write that moves the
 * delta link on; a failed run leaves the committed reading as it was.
 *
 * Encoding: the ids are Entra object ids (GUIDs), 16 bytes each, sorted, nothing else: 100,000
 * members take 1.6 MB. Written by hand because it is 20 lines and a general serializer would at
 * least double the size (a GUID as JSON text is 39 bytes).
 */

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const bytesPerMember = 16;

export function encodeMembers(ids: Iterable<string>): Buffer {
  const sorted = [...ids].map((id) => id.toLowerCase()).sort();
  const buffer = Buffer.alloc(sorted.length * bytesPerMember);
  sorted.forEach((id, index) => {
    if (!guid.test(id)) throw createGraphError(GraphErrorCodes.graphResponseInvalid, { problem: 'memberNotGuid', index });
    buffer.write(id.replace(/-/g, ''), index * bytesPerMember, 'hex');
  });
  return buffer;
}

export function decodeMembers(buffer: Buffer): Set<string> {
  if (buffer.length % bytesPerMember !== 0) throw new RangeError(`a membership blob is a multiple of ${bytesPerMember} bytes, not ${buffer.length}`);
  const ids = new Set<string>();
  // Each id is written as text into one 36-byte buffer and read back whole: a flat string of 36
  // one-byte characters (about 60 bytes on the heap), where joining the parts with template
  // strings would keep each id as a rope of five pieces (about 4 times the memory).
  const text = Buffer.from('00000000-0000-0000-0000-000000000000', 'latin1');
  for (let offset = 0; offset < buffer.length; offset += bytesPerMember) {
    text.write(buffer.toString('hex', offset, offset + 4), 0, 'latin1');
    text.write(buffer.toString('hex', offset + 4, offset + 6), 9, 'latin1');
    text.write(buffer.toString('hex', offset + 6, offset + 8), 14, 'latin1');
    text.write(buffer.toString('hex', offset + 8, offset + 10), 19, 'latin1');
    text.write(buffer.toString('hex', offset + 10, offset + 16), 24, 'latin1');
    ids.add(text.toString('latin1'));
  }
  return ids;
}

export class MembershipStore {
  #ready = false;

  constructor(
    private readonly container: ContainerClient,
    /** e.g. `users`: the blobs are `<prefix>.members.<runId>.<attempt>.bin`. */
    private readonly prefix: string,
    private readonly where: string,
  ) {}

  nameFor(runId: string, attempt: number): string {
    return `${this.prefix}.members.${runId}.${attempt}.bin`;
  }

  async save(name: string, ids: Iterable<string>): Promise<void> {
    const bytes = encodeMembers(ids);
    try {
      if (!this.#ready) {
        await ensureContainer(this.container);
        this.#ready = true;
      }
      await this.container.getBlockBlobClient(name).uploadData(bytes, { blobHTTPHeaders: { blobContentType: 'application/octet-stream' } });
    } catch (error) {
      throw this.#failure(error, 'write', name);
    }
  }

  /** The ids a blob holds; undefined when it is not there (deleted by hand: the run then starts a new snapshot). */
  async load(name: string): Promise<Set<string> | undefined> {
    try {
      return decodeMembers(await this.container.getBlockBlobClient(name).downloadToBuffer());
    } catch (error) {
      if ((error as { statusCode?: unknown }).statusCode === 404) return undefined;
      throw this.#failure(error, 'read', name);
    }
  }

  /** Best effort: a blob left behind costs a few bytes, never a wrong run. */
  async remove(name: string): Promise<void> {
    await this.container
      .getBlockBlobClient(name)
      .deleteIfExists()
      .catch(() => undefined);
  }

  #failure(error: unknown, action: StateAction, name: string): SyncError {
    if (error instanceof SyncError) return error;
    return createStateError(
      StateErrorCodes.runStateFailed,
      { problem: 'membership', action, name, where: this.where, causeText: describeCause(error) },
      { cause: error },
    );
  }
}
