export {
  RetiredErrorCodes,
  SyncError,
  SyncErrorCodes,
  isSyncError,
  messageOf,
  type ErrorMessages,
  type MessageBuilder,
  type MessageParams,
  type NoParams,
  type SyncErrorCode,
  type SyncErrorOptions,
} from './sync-error';
export { describeCause, isIdentityError, isNetworkError, scrub } from './causes';
export { CoreErrorCodes, CoreErrorMessages, createCoreError, toSyncError, type CoreErrorCode, type InterruptedParams, type RetryBudgetParams } from './errors';
export { count } from './format';
export { RetryBudget, budgetGuardPolicy, classifyTransient, createRetryingPipeline, fixedBudget, type BudgetSource } from './retry';
export { Attr, MetricNames, SpanNames, errorType, httpStatus, inSpan, instruments, markFailed, telemetryScope, tracer } from './telemetry';
export { product, userAgentPrefix } from './product';
