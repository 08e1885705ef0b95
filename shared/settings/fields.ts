import { count } from '../core';
import { SettingNames } from './names';
import type { SyncMode } from './mode';
import { show } from './values';

/**
 * USER_FIELDS against what Microsoft Graph can serve to this sync, which reads lists of users
 * (/users, /users/delta, a group's transitive members), never one user at a time. Checked once
 * the list parses (values.ts), with SYNC_MODE known. Re-exported by settings.ts.
 *
 * Refused (one problem naming each property and why, and the list without them):
 * - in either mode, the properties Graph returns only for GET /users/{id} (user-list.md: "The
 *   following properties are only supported when retrieving a single user", and "returns a 501
 *   Not Implemented error code" for a list that selects one);
 * - in delta mode, signInActivity: /users/delta answers 400 "$expand/$select is not supported
 *   for the following properties: signInActivity" (seen in microsoftgraph/microsoft-graph-
 *   explorer-v4#3189; user-delta.md does not list it). Full mode reads it from /users, with the
 *   application permission AuditLog.Read.All and at most 500 users a page (user-list.md);
 * - in delta mode, the navigation properties of a user but `manager` (resources/user.md,
 *   Relationships): delta-query-overview.md, "Navigation properties are not supported", and
 *   "$select also supports manager" alone for users; a change to one never surfaces the user.
 *
 * Warned about (a notice at the start of every run, `fieldNotices`), not refused:
 * - in delta mode, licenseAssignmentStates: user-delta.md, "Changes to the licenseAssignmentStates
 *   property are currently not tracked". Graph still returns its value, current in every
 *   snapshot; only a change to it alone is missed. Refusing it would break a configuration that
 *   works for an operator who takes a snapshot now and then (--full) or accepts the lag.
 */

/** user-list.md: served only when retrieving a single user; a list of users with one of them is answered 501. */
export const singleUserProperties: readonly string[] = [
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

/** resources/user.md, Relationships: a user's navigation properties (v1.0), `manager` left out (delta tracks it). */
export const userNavigationProperties: readonly string[] = [
  'activities',
  'agreementAcceptances',
  'appRoleAssignments',
  'authentication',
  'calendar',
  'calendarGroups',
  'calendars',
  'calendarView',
  'chats',
  'cloudClipboard',
  'contactFolders',
  'contacts',
  'createdObjects',
  'dataSecurityAndGovernance',
  'directReports',
  'drive',
  'drives',
  'employeeExperience',
  'events',
  'extensions',
  'followedSites',
  'inferenceClassification',
  'insights',
  'joinedTeams',
  'licenseDetails',
  'mailFolders',
  'managedAppRegistrations',
  'managedDevices',
  'memberOf',
  'messages',
  'oauth2PermissionGrants',
  'onenote',
  'onlineMeetings',
  'outlook',
  'ownedDevices',
  'ownedObjects',
  'people',
  'permissionGrants',
  'photo',
  'photos',
  'planner',
  'presence',
  'registeredDevices',
  'scopedRoleMemberOf',
  'settings',
  'solutions',
  'sponsors',
  'teamwork',
  'todo',
  'transitiveMemberOf',
  'transitiveReports',
];

/** Read from the sign-in logs, not the directory: AuditLog.Read.All, 500 users a page, and not on /users/delta. */
export const signInActivityProperty = 'signInActivity';

/** user-delta.md: "Changes to the licenseAssignmentStates property are currently not tracked." */
export const untrackedInDelta: readonly string[] = ['licenseAssignmentStates'];

const byLowerCase = (names: readonly string[]): ReadonlySet<string> => new Set(names.map((n) => n.toLowerCase()));
const singleUser = byLowerCase(singleUserProperties);
const navigation = byLowerCase(userNavigationProperties);
const untracked = byLowerCase(untrackedInDelta);

/** "aboutMe", "aboutMe and skills", "aboutMe, skills and schools". */
function names(list: readonly string[]): string {
  return list.length <= 1 ? list.join('') : `${list.slice(0, -1).join(', ')} and ${list.at(-1) ?? ''}`;
}

/** One of them or them: `it` for one property, `them` for more. */
const them = (list: readonly string[]): string => (list.length === 1 ? 'it' : 'them');

/**
 * Refuses (one problem in `problems`) the USER_FIELDS Graph cannot serve in `mode`, and returns
 * the notices for those it serves with a limit. `fields` is the parsed list (`id` first); `value`
 * the setting as written, for the message; `mode` undefined (SYNC_MODE not valid, reported apart)
 * checks only what no mode can serve.
 */
export function checkFieldsGraphServes(value: string, fields: readonly string[], mode: SyncMode | undefined, problems: string[]): readonly string[] {
  const name = SettingNames.userFields;
  const inMode = (set: ReadonlySet<string>): string[] => fields.filter((f) => set.has(f.toLowerCase()));
  const single = inMode(singleUser);
  const signIn = mode === 'delta' ? inMode(byLowerCase([signInActivityProperty])) : [];
  const related = mode === 'delta' ? inMode(navigation) : [];
  const reasons = [
    single.length === 0
      ? ''
      : `${names(single)} (Graph returns ${them(single)} only when reading one user, GET /users/{id}, and answers a list of users that selects ${them(single)} with 501 Not Implemented)`,
    signIn.length === 0
      ? ''
      : `${names(signIn)} in SYNC_MODE=delta (Graph's /users/delta refuses it in $select with 400; SYNC_MODE=full reads it from /users, with the application permission AuditLog.Read.All)`,
    related.length === 0
      ? ''
      : `${names(related)} in SYNC_MODE=delta (${related.length === 1 ? 'a navigation property' : 'navigation properties'} of the user, which Graph's delta query does not track: only manager is, so a change to ${them(related)} would never reach the queue)`,
  ].filter((r) => r !== '');
  if (reasons.length > 0) {
    const refused = new Set([...single, ...signIn, ...related]);
    const kept = fields.filter((f) => !refused.has(f));
    problems.push(
      `${name} ${show(value)} names ${count(refused.size, 'property', 'properties')} Microsoft Graph cannot serve to this sync, which reads lists of users: ` +
        `${reasons.join('; ')}. Remove ${refused.size === 1 ? 'it' : 'them'}, e.g. ${name}=${kept.join(',')}`,
    );
    return [];
  }
  if (mode !== 'delta') return [];
  return inMode(untracked).map(
    (f) =>
      `${name} selects ${f}, whose changes Graph's /users/delta does not track ("Changes to the licenseAssignmentStates property are currently not tracked", user-delta): ` +
      `in SYNC_MODE=delta a change to ${f} alone sends nothing, so consumers may hold an older value until the next snapshot (the first run, --full, a resync); SYNC_MODE=full reads it afresh at every run.`,
  );
}
