import type { SeedUser } from './seed';

/**
 * The user properties the Graph stand-in knows, with their types as Graph's metadata gives them
 * ($select and $filter accept these and no others), and Graph's default selection of /users.
 */

export type UserPropertyType = 'string' | 'boolean' | 'dateTime' | 'collection';

export const userPropertyTypes: Readonly<Record<string, UserPropertyType>> = {
  id: 'string',
  displayName: 'string',
  givenName: 'string',
  surname: 'string',
  mail: 'string',
  userPrincipalName: 'string',
  accountEnabled: 'boolean',
  jobTitle: 'string',
  department: 'string',
  mobilePhone: 'string',
  businessPhones: 'collection',
  officeLocation: 'string',
  preferredLanguage: 'string',
  usageLocation: 'string',
  employeeId: 'string',
  userType: 'string',
  createdDateTime: 'dateTime',
  // Real properties the stand-in knows but leaves unset (returned as null), as Graph does for empty ones.
  companyName: 'string',
  city: 'string',
  country: 'string',
  state: 'string',
  streetAddress: 'string',
  postalCode: 'string',
  faxNumber: 'string',
  otherMails: 'collection',
  proxyAddresses: 'collection',
  onPremisesSyncEnabled: 'boolean',
  employeeType: 'string',
  externalUserState: 'string',
  creationType: 'string',
  ageGroup: 'string',
  mailNickname: 'string',
  licenseAssignmentStates: 'collection',
};

/** Properties /users/delta does not track (user-delta.md: "Changes to the licenseAssignmentStates property are currently not tracked"). */
export const untrackedByDelta: ReadonlySet<string> = new Set(['licenseAssignmentStates']);

export const userProperties: ReadonlySet<string> = new Set(Object.keys(userPropertyTypes));

/**
 * Properties Graph returns only when reading one user (GET /users/{id}), lowercased: user-list.md,
 * "The following properties are only supported when retrieving a single user", and a list that
 * selects one "returns a 501 Not Implemented error code" (body as delta-query-overview.md shows
 * it for skills: NotImplemented, "This operation target is not yet supported.").
 */
export const singleUserProperties: ReadonlySet<string> = new Set(
  ['aboutMe', 'birthday', 'hireDate', 'interests', 'mySite', 'pastProjects', 'preferredName', 'responsibilities', 'schools', 'skills', 'mailboxSettings'].map(
    (p) => p.toLowerCase(),
  ),
);

/**
 * signInActivity: kept with the sign-in logs, not the directory. user-list.md: "When
 * signInActivity is selected or filtered on, the maximum page size is 500"; user.md: it needs
 * AuditLog.Read.All and a Microsoft Entra ID P1 or P2 license. A user holds it only when a test
 * sets it (an object: lastSignInDateTime, …); null otherwise, as for a user who never signed in.
 */
export const signInActivity = 'signInActivity';
export const signInActivityMaxPageSize = 500;

/** Whether a $select names signInActivity (Graph reads names in any case). */
export function selectsSignInActivity(fields: readonly string[]): boolean {
  return fields.some((f) => f.toLowerCase() === signInActivity.toLowerCase());
}

/** What /users selects without $select (Graph's default set). */
export const defaultSelect: readonly string[] = [
  'businessPhones',
  'displayName',
  'givenName',
  'jobTitle',
  'mail',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'surname',
  'userPrincipalName',
  'id',
];

/** A property of a user as the stand-in holds it (undefined when it does not hold that property at all). */
export function userProperty(user: SeedUser, name: string): unknown {
  return (user as unknown as Record<string, unknown>)[name];
}
