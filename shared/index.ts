/**
 * The public surface of the sync: what functions/ (the Function App) and local/ (the offline
 * tools) import, and what a program that drives the sync from its own code needs.
 *
 * The walk is one-directional (settings → credential → token → Graph pages → messages → queue,
 * the run state beside, the run on top); each folder has one entry, its index.ts. Tests and the
 * benchmark reach further in through ./internal, which is not a stable surface.
 */

/** Settings: read once from the environment, every failure a SettingsError naming the setting. */
export { SettingsError, allSettingNames, readSettings, type MessageEncoding, type SyncMode, type SyncSettings } from './settings';
/** SYNC_SCHEDULE as the Functions host reads it (NCrontab with seconds, else a TimeSpan). */
export { hostSchedule, parseTimeSpan } from './settings';
/** The run, its dry run and what outlives runs (the runtime a worker keeps). */
export {
  RemovalsHeldError,
  createSyncRuntime,
  dryRun,
  isRemovalsHeld,
  runSync,
  type DryRunOptions,
  type DryRunReport,
  type RunSyncOptions,
  type SyncProgress,
  type SyncRuntime,
  type SyncRuntimeOptions,
  type SyncSummary,
} from './run';
/** The message contract the consumer reads (schema/message.v2.schema.json). */
export {
  MessageTypes,
  decodeMessage,
  messageIdOf,
  messageSchemaVersion,
  type MessageType,
  type RunInfo,
  type SnapshotCompletedMessage,
  type SnapshotReason,
  type SyncMessage,
  type UserMessage,
  type UserRemovedMessage,
  type UserStateMessage,
} from './messages';
/** Errors (typed, with static codes) and what is safe to log. */
export { SyncError, SyncErrorCodes, isSyncError, scrub, toSyncError, type SyncErrorCode } from './core';
/** Telemetry names an exporter or dashboard keys on, and the wording helper the tools share. */
export { Attr, count, telemetryScope } from './core';
