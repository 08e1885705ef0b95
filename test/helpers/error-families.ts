import assert from 'node:assert/strict';
import { it } from 'node:test';
import {
  CoreErrorCodes,
  CoreErrorMessages,
  CredentialErrorCodes,
  CredentialErrorMessages,
  GraphErrorCodes,
  GraphErrorMessages,
  QueueErrorCodes,
  QueueErrorMessages,
  RunErrorCodes,
  RunErrorMessages,
  SettingsErrorCodes,
  SettingsErrorMessages,
  StateErrorCodes,
  StateErrorMessages,
  StorageErrorCodes,
  StorageErrorMessages,
  SyncError,
  type SyncErrorCode,
  TokenErrorCodes,
  TokenErrorMessages,
} from '../../shared/internal';

/** A family of errors as its errors.ts exports it: its codes and its message table. */
export interface ErrorFamily {
  readonly codes: Readonly<Record<string, SyncErrorCode>>;
  readonly messages: Readonly<Record<string, unknown>>;
}

/** Every family, by the folder that owns it (the union test in test/unit/core/errors.test.ts). */
export const errorFamilies: Readonly<Record<string, ErrorFamily>> = {
  core: { codes: CoreErrorCodes, messages: CoreErrorMessages },
  settings: { codes: SettingsErrorCodes, messages: SettingsErrorMessages },
  storage: { codes: StorageErrorCodes, messages: StorageErrorMessages },
  credential: { codes: CredentialErrorCodes, messages: CredentialErrorMessages },
  token: { codes: TokenErrorCodes, messages: TokenErrorMessages },
  graph: { codes: GraphErrorCodes, messages: GraphErrorMessages },
  queue: { codes: QueueErrorCodes, messages: QueueErrorMessages },
  state: { codes: StateErrorCodes, messages: StateErrorMessages },
  run: { codes: RunErrorCodes, messages: RunErrorMessages },
};

/** The test that the family's message table has a builder for each of its codes, and nothing else. */
export function itHasAMessagePerCode(family: ErrorFamily): void {
  it('has a message builder for every code of the family, and none for another', () => {
    assert.deepEqual(Object.keys(family.messages).sort(), Object.values(family.codes).sort());
    for (const [code, build] of Object.entries(family.messages)) assert.equal(typeof build, 'function', code);
  });
}

/** The cause and details every error of `itMakesEachCode` is made with. */
export const madeWith = { cause: new Error('the cause'), details: { vaultUrl: 'https://kv.example', status: 403, held: true } } as const;

/**
 * The test that the family's factory, given `madeWith`, sets the code, a message without a hole
 * (no "undefined", no "[object Object]"), the cause and the details; and that `make` covers every
 * code of the family but the `typed` ones (made by a typed subclass's own factory, tested beside).
 */
export function itMakesEachCode(family: ErrorFamily, make: () => readonly SyncError[], typed: readonly SyncErrorCode[] = []): void {
  it('makes each code with its message, the cause and the details', () => {
    const made = make();
    for (const error of made) {
      assert.ok(error instanceof SyncError);
      assert.ok(Object.values(family.codes).includes(error.code), `${error.code} is not of this family`);
      assert.ok(error.message.length > 20, `${error.code}: "${error.message}"`);
      assert.doesNotMatch(error.message, /undefined|\[object Object\]|NaN/, error.code);
      assert.equal(error.cause, madeWith.cause, error.code);
      assert.deepEqual(error.details, madeWith.details, error.code);
    }
    const expected = Object.values(family.codes).filter((code) => !typed.includes(code));
    assert.deepEqual([...new Set(made.map((error) => error.code))].sort(), expected.sort());
  });
}
