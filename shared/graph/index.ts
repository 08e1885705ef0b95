export {
  GraphErrorCodes,
  GraphErrorMessages,
  GraphResyncRequired,
  createGraphError,
  createGraphResyncRequired,
  isGraphResyncRequired,
  type GraphErrorCode,
  type ResponseInvalidParams,
} from './errors';
export { readUserPages, type FetchedUsersPage, type GraphUsersOptions } from './pages';
export { groupMembersUrl, latestDeltaUrl, maxIdsPerRequest, usersByIdUrl, usersDeltaUrl, usersUrl } from './urls';
export { isRangeFilter, partitionFilters, partitionStarts, rangeOfName, scopeCountUrl, type PartitionState } from './partitions';
export { parseUsersPage, type DirectoryEntry, type DirectoryUser, type RemovedUser, type UserPropertyValue } from './users';
