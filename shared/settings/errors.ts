import { type ErrorMessages, type MessageParams, SyncError, SyncErrorCodes, messageOf } from '../core';

/**
 * The settings family of errors (see core/sync-error.ts for how families work): one code,
 * SETTINGS_INVALID, thrown once with every problem found (each problem's text is written where
 * that setting is checked), as the typed SettingsError.
 */

export const SettingsErrorCodes = {
  settingsInvalid: SyncErrorCodes.settingsInvalid,
} as const;

export type SettingsErrorCode = (typeof SettingsErrorCodes)[keyof typeof SettingsErrorCodes];

export const defaultSettingsSource = 'the environment variables';

export interface SettingsInvalidParams {
  readonly problems: readonly string[];
  /** Where the values were read from (ReadSettingsOptions.source). */
  readonly source: string;
}

export const SettingsErrorMessages = {
  [SettingsErrorCodes.settingsInvalid]: (p: SettingsInvalidParams) =>
    `Invalid settings (${p.problems.length}), read from ${p.source}; fix them there:\n` + p.problems.map((problem) => `  - ${problem}`).join('\n'),
} satisfies ErrorMessages<SettingsErrorCode>;

/** SETTINGS_INVALID, typed: the problems and where they were read from, for callers that print them their own way. */
export class SettingsError extends SyncError {
  override readonly name = 'SettingsError';
  readonly problems: readonly string[];
  /** Where the values were read from (ReadSettingsOptions.source). */
  readonly source: string;

  constructor(problems: readonly string[], source: string = defaultSettingsSource) {
    super(SettingsErrorCodes.settingsInvalid, messageOf(SettingsErrorMessages, SettingsErrorCodes.settingsInvalid, { problems, source }), {
      details: { count: problems.length },
    });
    this.problems = problems;
    this.source = source;
  }
}

/** A SettingsError, its message from SettingsErrorMessages (the family has one code: `_code` is there for the factories' common shape). */
export function createSettingsError(_code: SettingsErrorCode, params: MessageParams<typeof SettingsErrorMessages, SettingsErrorCode>): SettingsError {
  return new SettingsError(params.problems, params.source);
}
