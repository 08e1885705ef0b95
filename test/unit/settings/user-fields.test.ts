import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readSettings, SettingsError, SyncErrorCodes } from '../../../shared/internal';

// USER_FIELDS that Graph cannot serve to a sync that reads lists of users (issue 22, section 2):
// refused at settings time with one problem naming each property and why, or, for a property whose
// changes delta does not track, accepted with a notice for every run.

const valid = {
  GRAPH_TENANT_ID: 'contoso.onmicrosoft.com',
  GRAPH_CLIENT_ID: '6731de76-14a6-49ae-97bc-6eba6914391e',
  KEY_VAULT_URL: 'https://kv-sync.vault.azure.net/',
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
};

const singleUser = [
  'aboutMe',
  'birthday',
  'hireDate',
  'interests',
  'mySite',
  'pastProjects',
  'preferredName',
  'responsibilities',
  'schools',
  'skills',
  'mailboxSettings',
];

function problemsOf(env: Record<string, string | undefined>): readonly string[] {
  try {
    readSettings({ ...valid, ...env });
  } catch (error) {
    assert.ok(error instanceof SettingsError, String(error));
    assert.equal(error.code, SyncErrorCodes.settingsInvalid);
    return error.problems;
  }
  assert.fail('expected a SettingsError');
}

/** The one problem of USER_FIELDS (there is never more than one per setting). */
function fieldsProblem(env: Record<string, string | undefined>): string {
  const problems = problemsOf(env).filter((p) => p.startsWith('USER_FIELDS'));
  assert.equal(problems.length, 1, problems.join('\n'));
  return problems[0] ?? '';
}

describe('USER_FIELDS: properties Graph returns only for one user', () => {
  for (const mode of ['delta', 'full']) {
    for (const property of singleUser) {
      it(`${property} is refused in SYNC_MODE=${mode}, naming it, why, and the list without it`, () => {
        const problem = fieldsProblem({ SYNC_MODE: mode, USER_FIELDS: `id,displayName,${property},mail` });
        assert.match(
          problem,
          new RegExp(`^USER_FIELDS "id,displayName,${property},mail" names 1 property Microsoft Graph cannot serve to this sync, which reads lists of users: `),
        );
        assert.match(
          problem,
          new RegExp(
            `: ${property} \\(Graph returns it only when reading one user, GET /users/\\{id\\}, and answers a list of users that selects it with 501 Not Implemented\\)`,
          ),
        );
        assert.match(problem, /Remove it, e\.g\. USER_FIELDS=id,displayName,mail$/);
      });
    }
  }

  it('names every such property in one problem, in the spelling given (Graph reads names in any case)', () => {
    const problem = fieldsProblem({ USER_FIELDS: 'displayName,AboutMe,skills,mail,SCHOOLS' });
    assert.match(problem, /names 3 properties .*: AboutMe, skills and SCHOOLS \(Graph returns them only when reading one user/);
    assert.match(problem, /Remove them, e\.g\. USER_FIELDS=id,displayName,mail$/);
  });

  it('the list the problem suggests is valid settings', () => {
    const problem = fieldsProblem({ USER_FIELDS: 'id,mail,hireDate,birthday' });
    const suggested = /e\.g\. USER_FIELDS=(\S+)$/.exec(problem)?.[1] ?? '';
    assert.deepEqual(readSettings({ ...valid, USER_FIELDS: suggested }).userFields, ['id', 'mail']);
  });

  it('a USER_FIELDS that does not parse gets its parse problem only', () => {
    const problem = fieldsProblem({ USER_FIELDS: 'aboutMe,display name' });
    assert.match(problem, /must be a comma-separated list/);
    assert.doesNotMatch(problem, /GET \/users\/\{id\}/);
  });

  it('is refused even when SYNC_MODE is not valid (each setting reported)', () => {
    const problems = problemsOf({ SYNC_MODE: 'sometimes', USER_FIELDS: 'id,skills,signInActivity' });
    assert.ok(problems.some((p) => p.startsWith('SYNC_MODE "sometimes"')));
    const fields = problems.find((p) => p.startsWith('USER_FIELDS')) ?? '';
    assert.match(fields, /names 1 property .*: skills \(/, 'signInActivity depends on the mode, which is unknown');
  });
});

describe('USER_FIELDS: signInActivity', () => {
  it('SYNC_MODE=full accepts it, with no notice (page size and permission are the run’s: graph/urls.ts, graph/errors.ts)', () => {
    const settings = readSettings({ ...valid, SYNC_MODE: 'full', USER_FIELDS: 'id,displayName,signInActivity' });
    assert.deepEqual(settings.userFields, ['id', 'displayName', 'signInActivity']);
    assert.deepEqual(settings.fieldNotices, []);
  });

  it('SYNC_MODE=delta (the default) refuses it: /users/delta refuses it in $select; full mode reads it with AuditLog.Read.All', () => {
    const problem = fieldsProblem({ USER_FIELDS: 'id,displayName,signInActivity' });
    assert.match(
      problem,
      /: signInActivity in SYNC_MODE=delta \(Graph's \/users\/delta refuses it in \$select with 400; SYNC_MODE=full reads it from \/users, with the application permission AuditLog\.Read\.All\)\. Remove it, e\.g\. USER_FIELDS=id,displayName$/,
    );
  });
});

describe('USER_FIELDS in delta mode: what delta does not track', () => {
  for (const property of ['memberOf', 'photo', 'directReports', 'transitiveMemberOf', 'licenseDetails']) {
    it(`${property} (a navigation property) is refused in delta mode, and left to Graph in full mode`, () => {
      const problem = fieldsProblem({ USER_FIELDS: `id,${property}` });
      assert.match(
        problem,
        new RegExp(
          `: ${property} in SYNC_MODE=delta \\(a navigation property of the user, which Graph's delta query does not track: only manager is, so a change to it would never reach the queue\\)`,
        ),
      );
      assert.deepEqual(readSettings({ ...valid, SYNC_MODE: 'full', USER_FIELDS: `id,${property}` }).userFields, ['id', property]);
    });
  }

  it('manager is accepted: delta tracks it', () => {
    const settings = readSettings({ ...valid, USER_FIELDS: 'id,manager' });
    assert.deepEqual(settings.userFields, ['id', 'manager']);
    assert.deepEqual(settings.fieldNotices, []);
  });

  it('licenseAssignmentStates is accepted with one notice naming it and why; none in full mode', () => {
    const settings = readSettings({ ...valid, USER_FIELDS: 'id,displayName,licenseAssignmentStates' });
    assert.deepEqual(settings.userFields, ['id', 'displayName', 'licenseAssignmentStates']);
    assert.equal(settings.fieldNotices.length, 1);
    assert.match(
      settings.fieldNotices[0] ?? '',
      /^USER_FIELDS selects licenseAssignmentStates, whose changes Graph's \/users\/delta does not track .*: in SYNC_MODE=delta a change to licenseAssignmentStates alone sends nothing, .*SYNC_MODE=full reads it afresh at every run\.$/,
    );
    assert.deepEqual(readSettings({ ...valid, SYNC_MODE: 'full', USER_FIELDS: 'id,licenseAssignmentStates' }).fieldNotices, []);
  });

  it('every reason in one problem: a single-user property, signInActivity and a navigation property', () => {
    const problem = fieldsProblem({ USER_FIELDS: 'mail,skills,signInActivity,memberOf,licenseAssignmentStates' });
    assert.match(
      problem,
      /names 3 properties .*: skills \(Graph returns it only .*\); signInActivity in SYNC_MODE=delta \(.*\); memberOf in SYNC_MODE=delta \(a navigation property/,
    );
    assert.match(problem, /Remove them, e\.g\. USER_FIELDS=id,mail,licenseAssignmentStates$/);
  });

  it('the default USER_FIELDS is accepted in both modes without notices', () => {
    for (const mode of ['delta', 'full']) assert.deepEqual(readSettings({ ...valid, SYNC_MODE: mode }).fieldNotices, []);
  });
});
