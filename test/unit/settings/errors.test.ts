import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSettingsError, SettingsError, SettingsErrorCodes, SettingsErrorMessages } from '../../../shared/internal';
import { itHasAMessagePerCode } from '../../helpers/error-families';

describe('settings errors', () => {
  itHasAMessagePerCode({ codes: SettingsErrorCodes, messages: SettingsErrorMessages });

  it('makes SETTINGS_INVALID as the typed SettingsError: every problem, where they were read from, and their count', () => {
    const problems = ['GRAPH_TENANT_ID is required', 'SYNC_MODE "sometimes" is not full or delta'];
    const error = createSettingsError(SettingsErrorCodes.settingsInvalid, { problems, source: 'local.settings.json (--settings)' });
    assert.ok(error instanceof SettingsError);
    assert.equal(error.code, SettingsErrorCodes.settingsInvalid);
    assert.equal(
      error.message,
      'Invalid settings (2), read from local.settings.json (--settings); fix them there:\n  - GRAPH_TENANT_ID is required\n  - SYNC_MODE "sometimes" is not full or delta',
    );
    assert.equal(error.cause, undefined);
    assert.deepEqual(error.details, { count: 2 });
    assert.deepEqual(error.problems, problems);
    assert.equal(error.source, 'local.settings.json (--settings)');
  });
});
