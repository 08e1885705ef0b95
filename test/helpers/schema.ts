import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { SyncMessage } from '../../shared';

/**
 * The message schema the README links (schema/message.v2.schema.json), compiled once with ajv:
 * every message a test reads back from the queue goes through `assertValidMessages`.
 */

export const messageSchemaPath = join(__dirname, '..', '..', '..', 'schema', 'message.v2.schema.json');

const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false });
addFormats(ajv);
const validate = ajv.compile(JSON.parse(readFileSync(messageSchemaPath, 'utf8')) as object);

/** The schema's complaints about one message (empty when it is valid). */
export function schemaErrors(message: unknown): string[] {
  if (validate(message)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`);
}

export function assertValidMessages(messages: readonly SyncMessage[]): void {
  for (const message of messages) {
    const errors = schemaErrors(message);
    if (errors.length > 0)
      throw new Error(`A queue message does not match ${messageSchemaPath}: ${errors.join('; ')}\n${JSON.stringify(message).slice(0, 500)}`);
  }
}
