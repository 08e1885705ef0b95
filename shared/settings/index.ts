export {
  MicrosoftHosts,
  SettingDefaults,
  SettingNames,
  allSettingNames,
  blobEndpointOf,
  describeScope,
  describeThreshold,
  needsAdvancedQuery,
  parseRemovalLimit,
  queueEndpointOf,
  readSettings,
  removalThreshold,
  scopeKey,
  type GraphCredentialMode,
  type GraphCredentialSettings,
  type MessageEncoding,
  type StorageConnection,
  type SyncMode,
  type SyncSettings,
} from './settings';
export { hostSchedule, parseTimeSpan } from './schedule';
export { checkSchedule } from './values';
export { SettingsError, SettingsErrorCodes, SettingsErrorMessages, createSettingsError, type SettingsErrorCode, type SettingsInvalidParams } from './errors';
