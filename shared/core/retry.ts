import { userAgentPrefix } from './product';
import { transientErrorCodes } from './network';
import {
  RestError,
  createPipelineFromOptions,
  isRestError,
  type HttpHeaders,
  type Pipeline,
  type PipelinePolicy,
  type PipelineRequest,
  type PipelineResponse,
  type RetryStrategy,
  retryPolicy,
} from '@azure/core-rest-pipeline';
import { describeCause } from './causes';
import { CoreErrorCodes, createCoreError } from './errors';
import type { SyncError } from './sync-error';
import { countRetry } from './telemetry';

/**
 * Transient faults, retried inside the run within one budget.
 *
 * One `RetryBudget` per run bounds the time the run spends on failed attempts and on waiting
 * between them, across dependencies: when it is spent, the run fails with a message naming the
 * dependency, its last answer and how long it was tried.
 *
 * The retries themselves are @azure/core-rest-pipeline's `retryPolicy`, given one strategy
 * (below) rather than core's defaults, because the defaults leave out faults this daemon meets:
 * a 429 without Retry-After, a connection reset while the body is read (RestError PARSE_ERROR),
 * a 200 whose body is not JSON, and an attempt that exceeds its timeout (core's `timeout` covers
 * only the wait for headers and raises an AbortError that the retry policy never retries).
 */

export interface RetryBudgetOptions {
  /** Default Date.now. */
  now?: () => number;
}

/**
 * Charges wall time: a stretch during which some request of the run was failing or waiting counts
 * once, however many requests were (full mode's parallel walks all wait out the same 429's
 * Retry-After; charging each would spend the budget N times as fast). Sequential retries add up
 * as before. Kept as the end of the latest stretch charged, so a charge overlapping it costs only
 * what lies beyond.
 */
export class RetryBudget {
  #spentMs = 0;
  /** The end of the latest stretch charged (budget time, from `now`). */
  #coveredUntil = Number.NEGATIVE_INFINITY;
  readonly #now: () => number;

  constructor(
    readonly limitMs: number,
    options: RetryBudgetOptions = {},
  ) {
    this.#now = options.now ?? Date.now;
  }

  get spentMs(): number {
    return this.#spentMs;
  }

  get remainingMs(): number {
    return Math.max(0, this.limitMs - this.#spentMs);
  }

  /** Charges a wait of `ms` from now if the budget still holds what it adds; false (and nothing charged) otherwise. */
  tryCharge(ms: number): boolean {
    const now = this.#now();
    const cost = this.#beyondCovered(now, now + ms);
    if (this.#spentMs + cost > this.limitMs) return false;
    this.#spentMs += cost;
    this.#coveredUntil = Math.max(this.#coveredUntil, now + ms);
    return true;
  }

  /** Charges unconditionally the `ms` up to now (time already gone, such as a failed attempt). */
  charge(ms: number): void {
    const now = this.#now();
    this.#spentMs += this.#beyondCovered(now - Math.max(0, ms), now);
    this.#coveredUntil = Math.max(this.#coveredUntil, now);
  }

  now(): number {
    return this.#now();
  }

  #beyondCovered(from: number, to: number): number {
    return Math.max(0, to - Math.max(from, this.#coveredUntil));
  }
}

/** Where a budget comes from: the run that is going on now (one runtime serves one run at a time). */
export interface BudgetSource {
  current(): RetryBudget;
}

export function fixedBudget(budget: RetryBudget): BudgetSource {
  return { current: () => budget };
}

export interface BackoffOptions {
  /** First delay's ceiling; default 1,000 ms. */
  baseDelayMs?: number;
  /** Largest delay; default 30,000 ms. */
  maxDelayMs?: number;
  random?: () => number;
}

/** Exponential backoff with full jitter (AWS architecture blog; what Azure's guidance recommends). */
export function backoffDelay(retryCount: number, options: BackoffOptions = {}): number {
  const base = options.baseDelayMs ?? 1000;
  const max = options.maxDelayMs ?? 30_000;
  const ceiling = Math.min(max, base * 2 ** Math.min(retryCount, 30));
  return Math.floor((options.random ?? Math.random)() * ceiling);
}

/** Retry-After as seconds or an HTTP date, or retry-after-ms / x-ms-retry-after-ms; undefined if absent or unreadable. */
export function retryAfterMs(headers: HttpHeaders, now: number = Date.now()): number | undefined {
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const value = headers.get(name);
    if (value !== undefined && /^\d+(\.\d+)?$/.test(value.trim())) return Math.ceil(Number(value));
  }
  const value = headers.get('retry-after')?.trim();
  if (value === undefined || value === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** HTTP statuses worth another attempt: timeouts, throttling and server faults (not 501/505, which will not change). */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

export const RetryErrorCodes = {
  /** An attempt exceeded its timeout (headers and body). */
  attemptTimeout: 'ATTEMPT_TIMEOUT',
  /** A 200 whose body is not JSON (cut short, or a proxy's page). */
  invalidJson: 'INVALID_JSON_BODY',
} as const;

/** What an attempt's failure looked like, for the budget's last word; undefined when it is not transient. */
export type TransientClassifier = (response: PipelineResponse | undefined, error: RestError | undefined) => string | undefined;

export function classifyTransient(response: PipelineResponse | undefined, error: RestError | undefined): string | undefined {
  if (error !== undefined) {
    const code = error.code ?? '';
    if (code === RetryErrorCodes.attemptTimeout || code === RetryErrorCodes.invalidJson || transientErrorCodes.has(code))
      return describeAttempt(response, error);
    if (response === undefined && error.statusCode === undefined) return undefined;
  }
  if (response !== undefined && isTransientStatus(response.status)) return describeAttempt(response, error);
  return undefined;
}

function describeAttempt(response: PipelineResponse | undefined, error: RestError | undefined): string {
  if (error !== undefined && (error.code ?? '') !== '' && response === undefined) return `${error.code ?? ''} (${error.message})`;
  if (error !== undefined && error.code === RetryErrorCodes.invalidJson) return `HTTP ${response?.status ?? '?'} with a body that is not JSON`;
  return `HTTP ${response?.status ?? error?.statusCode ?? '?'}`;
}

const attemptStarted = new WeakMap<PipelineRequest, number>();

/**
 * Per attempt (placed after the Retry phase): times the whole attempt, body included, and turns
 * an overrun into a retryable RestError. The caller's own abort signal still wins.
 */
export function attemptTimeoutPolicy(timeoutMs: number): PipelinePolicy {
  return {
    name: 'attemptTimeoutPolicy',
    async sendRequest(request, next) {
      attemptStarted.set(request, Date.now());
      const outer = request.abortSignal;
      const controller = new AbortController();
      const onOuterAbort = (): void => controller.abort();
      outer?.addEventListener('abort', onOuterAbort);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, timeoutMs);
      request.abortSignal = controller.signal;
      try {
        return await next(request);
      } catch (error) {
        if (timedOut && outer?.aborted !== true) {
          throw new RestError(`No complete answer within ${Math.round(timeoutMs / 1000)} s`, { code: RetryErrorCodes.attemptTimeout, request });
        }
        throw error;
      } finally {
        clearTimeout(timer);
        outer?.removeEventListener('abort', onOuterAbort);
        request.abortSignal = outer;
      }
    },
  };
}

/** Per attempt: a 2xx that says it is JSON must parse as JSON, or the attempt failed (retryable). */
export function jsonBodyPolicy(): PipelinePolicy {
  return {
    name: 'jsonBodyPolicy',
    async sendRequest(request, next) {
      const response = await next(request);
      if (
        response.status >= 200 &&
        response.status < 300 &&
        /json/i.test(response.headers.get('content-type') ?? '') &&
        response.bodyAsText !== undefined &&
        response.bodyAsText !== null
      ) {
        try {
          JSON.parse(response.bodyAsText);
        } catch {
          throw new RestError(`HTTP ${response.status} with a body that is not JSON (${response.bodyAsText.length} characters)`, {
            code: RetryErrorCodes.invalidJson,
            statusCode: response.status,
            request,
            response,
          });
        }
      }
      return response;
    },
  };
}

export interface BudgetedRetryOptions extends BackoffOptions {
  /** e.g. "Microsoft Graph", named in the error when the budget is spent. */
  dependency: string;
  /** The setting that points at it, named in the error. */
  setting?: string;
  classify?: TransientClassifier;
}

/**
 * One retry strategy for core's `retryPolicy`: transient failures are retried after Retry-After
 * or a full-jitter backoff, as long as the run's budget covers the failed attempt and the wait.
 */
export function budgetedRetryStrategy(budgets: BudgetSource, options: BudgetedRetryOptions): RetryStrategy {
  const classify = options.classify ?? classifyTransient;
  let firstFailureAt: number | undefined;
  return {
    name: 'budgetedRetryStrategy',
    retry({ retryCount, response, responseError }) {
      const failure = classify(response, responseError);
      if (failure === undefined) return { skipStrategy: true };
      const budget = budgets.current();
      const now = budget.now();
      const request = response?.request ?? responseError?.request;
      const started = request === undefined ? undefined : attemptStarted.get(request);
      if (started !== undefined) budget.charge(now - started);
      if (retryCount === 0 || firstFailureAt === undefined) firstFailureAt = started ?? now;
      const wait = (response === undefined ? undefined : retryAfterMs(response.headers, now)) ?? backoffDelay(retryCount, options);
      if (budget.remainingMs === 0 || !budget.tryCharge(wait)) {
        const triedMs = now - firstFailureAt;
        firstFailureAt = undefined;
        return { errorToThrow: budgetExhausted(options, failure, triedMs, retryCount + 1, budget, responseError) };
      }
      countRetry(options.dependency);
      return { retryAfterInMs: wait };
    },
  };
}

export function budgetExhausted(
  options: Pick<BudgetedRetryOptions, 'dependency' | 'setting'>,
  lastFailure: string,
  triedMs: number,
  attempts: number,
  budget: RetryBudget,
  cause?: unknown,
): SyncError {
  return createCoreError(
    CoreErrorCodes.retryBudgetExhausted,
    { dependency: options.dependency, lastFailure, attempts, triedMs, limitMs: budget.limitMs, setting: options.setting },
    { cause, details: { dependency: options.dependency, lastFailure, triedMs, attempts } },
  );
}

export interface RetryingPipelineOptions extends BudgetedRetryOptions {
  /** Per attempt, headers and body. */
  attemptTimeoutMs: number;
  userAgentPrefix?: string;
  /** Check that 2xx JSON bodies parse (default true). */
  validateJson?: boolean;
}

/**
 * A core-rest-pipeline with this module's retry in place of core's: the Graph calls and the
 * token calls of msal-node go through one of these.
 */
export function createRetryingPipeline(budgets: BudgetSource, options: RetryingPipelineOptions): Pipeline {
  const pipeline = createPipelineFromOptions({ userAgentOptions: { userAgentPrefix: options.userAgentPrefix ?? userAgentPrefix } });
  pipeline.removePolicy({ phase: 'Retry' });
  // Large enough never to be the limit: the budget is.
  pipeline.addPolicy(retryPolicy([budgetedRetryStrategy(budgets, options)], { maxRetries: 1_000_000 }), { phase: 'Retry' });
  pipeline.addPolicy(attemptTimeoutPolicy(options.attemptTimeoutMs), { afterPhase: 'Retry' });
  if (options.validateJson !== false) pipeline.addPolicy(jsonBodyPolicy(), { afterPhase: 'Retry' });
  return pipeline;
}

/**
 * For SDK clients that bring their own retry policy (Key Vault): placed per retry, it charges the
 * run's budget with each failed attempt and the wait before the next, and stops the SDK's retries
 * once the budget is spent.
 */
export function budgetGuardPolicy(budgets: BudgetSource, options: Pick<BudgetedRetryOptions, 'dependency' | 'setting'>): PipelinePolicy {
  const lastFailure = new WeakMap<PipelineRequest, { at: number; what: string; first: number; attempts: number }>();
  return {
    name: 'budgetGuardPolicy',
    async sendRequest(request, next) {
      const budget = budgets.current();
      const previous = lastFailure.get(request);
      const started = budget.now();
      if (previous !== undefined) {
        budget.charge(started - previous.at);
        if (budget.remainingMs === 0) throw budgetExhausted(options, previous.what, started - previous.first, previous.attempts, budget);
        countRetry(options.dependency);
      }
      const record = (what: string): void => {
        const now = budget.now();
        budget.charge(now - started);
        lastFailure.set(request, { at: now, what, first: previous?.first ?? started, attempts: (previous?.attempts ?? 0) + 1 });
      };
      try {
        const response = await next(request);
        if (isTransientStatus(response.status)) record(`HTTP ${response.status}`);
        return response;
      } catch (error) {
        record(isRestError(error) ? (classifyTransient(error.response, error) ?? describeCause(error)) : describeCause(error));
        throw error;
      }
    },
  };
}
