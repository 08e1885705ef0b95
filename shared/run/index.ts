export { dryRun, type DryRunOptions, type DryRunReport } from './dry-run';
export { planRun, type RunPlan } from './plan';
export { PendingRemovals } from './removals';
export { RangeCheck, RangesUnusable, rangeSlack } from './range-check';
export { createSyncRuntime, readMemberIds, type SyncRuntime, type SyncRuntimeOptions } from './runtime';
export { Membership, entryAction } from './scope';
export { runSync } from './sync';
export type { RunSyncOptions, SyncProgress, SyncSummary } from './types';
export {
  RemovalsHeldError,
  RunErrorCodes,
  RunErrorMessages,
  createRunError,
  isRemovalsHeld,
  stoppedOnRequest,
  withAttemptProgress,
  type AttemptProgress,
  type HeldRemovals,
  type HeldRun,
  type RunErrorCode,
} from './errors';
