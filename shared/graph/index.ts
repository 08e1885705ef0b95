export {
  groupMembersUrl,
  latestDeltaUrl,
  maxIdsPerRequest,
  readUserPages,
  usersByIdUrl,
  usersDeltaUrl,
  usersUrl,
  type FetchedUsersPage,
  type GraphUsersOptions,
} from './pages';
export { partitionFilters, partitionStarts, type PartitionState } from './partitions';
export { parseUsersPage, type DirectoryEntry, type DirectoryUser, type RemovedUser, type UserPropertyValue } from './users';
