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
  aboutMe: 'string',
};

export const userProperties: ReadonlySet<string> = new Set(Object.keys(userPropertyTypes));

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
