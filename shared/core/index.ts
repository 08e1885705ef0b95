export {
  SyncError,
  SyncErrorCodes,
  isSyncError,
  describeCause,
  isIdentityError,
  isNetworkError,
  scrub,
  storageSignInFailed,
  toSyncError,
  type SyncErrorCode,
} from './errors';
export { count } from './format';
export { RetryBudget, budgetGuardPolicy, classifyTransient, createRetryingPipeline, fixedBudget, type BudgetSource } from './retry';
export { Attr, MetricNames, SpanNames, errorType, httpStatus, inSpan, instruments, markFailed, telemetryScope, tracer } from './telemetry';
export { product, userAgentPrefix } from './product';
