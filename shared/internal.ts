export * from './index';
/** The error families: each folder's codes, message table and factory (see core/sync-error.ts). */
export { CoreErrorCodes, CoreErrorMessages, RetiredErrorCodes, createCoreError, messageOf } from './core';
export { CredentialErrorCodes, CredentialErrorMessages, createCredentialError } from './credential';
export { GraphErrorCodes, GraphErrorMessages, GraphResyncRequired, createGraphError, createGraphResyncRequired, isGraphResyncRequired } from './graph';
export { QueueErrorCodes, QueueErrorMessages, createQueueError } from './queue';
export { RunErrorCodes, RunErrorMessages, createRunError, stoppedOnRequest, withAttemptProgress } from './run';
export { SettingsErrorCodes, SettingsErrorMessages, createSettingsError } from './settings';
export { StateErrorCodes, StateErrorMessages, createStateError } from './state';
export { StorageErrorCodes, StorageErrorMessages, createStorageError } from './storage';
export { TokenErrorCodes, TokenErrorMessages, createTokenError } from './token';
export {
  MetricNames,
  RetryBudget,
  SpanNames,
  SyncError,
  SyncErrorCodes,
  budgetGuardPolicy,
  classifyTransient,
  createRetryingPipeline,
  describeCause,
  errorType,
  fixedBudget,
  httpStatus,
  inSpan,
  instruments,
  isIdentityError,
  isNetworkError,
  markFailed,
  tracer,
  type BudgetSource,
  type SyncErrorCode,
} from './core';
export {
  createClientCredential,
  createClientSecretSource,
  createManagedIdentityCredential,
  createSecretCredential,
  type ClientCredential,
  type CurrentClientAuth,
} from './credential';
export {
  groupMembersUrl,
  latestDeltaUrl,
  maxIdsPerRequest,
  isRangeFilter,
  parseUsersPage,
  partitionFilters,
  partitionStarts,
  rangeOfName,
  scopeCountUrl,
  readUserPages,
  usersByIdUrl,
  usersDeltaUrl,
  usersUrl,
  type DirectoryEntry,
  type DirectoryUser,
  type FetchedUsersPage,
  type GraphUsersOptions,
  type PartitionState,
  type RemovedUser,
  type UserPropertyValue,
} from './graph';
export {
  buildRemovedMessage,
  buildSnapshotCompleted,
  buildUserMessage,
  encodeMessage,
  maxQueueMessageBytes,
  messageSchemaVersion,
  overflowMessage,
  sequenceOf,
  type OverflowReference,
  type RunInfo,
  type SnapshotCompletedMessage,
  type SnapshotReason,
  type UserMessage,
  type UserStateMessage,
} from './messages';
export { OverflowStore, QueueSender, createQueueClient, describeQueueTarget, ensureQueue } from './queue';
export { Membership, PendingRemovals, RangeCheck, RangesUnusable, entryAction, planRun, rangeSlack, readMemberIds, type RunPlan } from './run';
export {
  MicrosoftHosts,
  SettingDefaults,
  SettingNames,
  blobEndpointOf,
  describeScope,
  describeThreshold,
  needsAdvancedQuery,
  parseRemovalLimit,
  queueEndpointOf,
  removalThreshold,
  scopeKey,
  type GraphCredentialMode,
  type GraphCredentialSettings,
  type StorageConnection,
  type SyncMode,
} from './settings';
export {
  MembershipStore,
  RunStateStore,
  bytesPerMember,
  checkpointVersion,
  decodeMembers,
  encodeMembers,
  parseCheckpoint,
  type PendingRemoval,
  type RunCheckpoint,
  type RunLock,
} from './state';
export {
  createContainerClient,
  describeContainer,
  ensureContainer,
  pipelineOptions,
  storageErrorCode,
  storageRetryOptions,
  type StorageClientOptions,
} from './storage';
export { createAppTokenProvider, graphTokenCredential, type AppTokenProvider, type AppTokenProviderOptions, type GraphTokenCredential } from './token';
export { checkSchedule, hostSchedule } from './settings';
