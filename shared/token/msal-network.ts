import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import {
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineRequest,
  type HttpClient,
  type PipelineResponse,
  type RestError,
} from '@azure/core-rest-pipeline';
import { type BudgetSource, classifyTransient, createRetryingPipeline } from '../core';

/**
 * msal-node's network, behind its own small interface (`system.networkClient`), sent through a
 * core-rest-pipeline with this project's retry. msal-node does not retry client-credential token
 * calls, and after a 429/5xx it caches the throttling for Retry-After (60 s when absent) and fails
 * identical requests locally until then; here transient answers are retried below msal, so msal
 * only ever sees a final answer and never caches a transient one.
 */

export interface MsalNetworkOptions {
  /** Per attempt; the token endpoint answers in well under a second when healthy. */
  attemptTimeoutMs?: number;
  httpClient?: HttpClient;
}

export interface RetryingNetworkModule extends INetworkModule {
  /** The last error the pipeline threw (msal wraps it in an opaque network_error). */
  lastError: unknown;
}

/** Entra's transient errors: HTTP 5xx/429/408, and AADSTS90033-style `temporarily_unavailable` on any status. */
export function classifyTokenAttempt(response: PipelineResponse | undefined, error: RestError | undefined): string | undefined {
  const transient = classifyTransient(response, error);
  if (transient !== undefined) return transient;
  const body = response?.bodyAsText ?? '';
  if (/"error"\s*:\s*"temporarily_unavailable"/.test(body)) return `HTTP ${response?.status ?? '?'} temporarily_unavailable`;
  return undefined;
}

export function createRetryingNetworkModule(budgets: BudgetSource, options: MsalNetworkOptions = {}): RetryingNetworkModule {
  const pipeline = createRetryingPipeline(budgets, {
    dependency: 'Entra ID',
    setting: 'AUTHORITY_HOST',
    attemptTimeoutMs: options.attemptTimeoutMs ?? 30_000,
    classify: classifyTokenAttempt,
  });
  const httpClient = options.httpClient ?? createDefaultHttpClient();

  const module: RetryingNetworkModule = {
    lastError: undefined,
    sendGetRequestAsync: <T>(url: string, request?: NetworkRequestOptions, timeout?: number) => send<T>('GET', url, request, timeout),
    sendPostRequestAsync: <T>(url: string, request?: NetworkRequestOptions) => send<T>('POST', url, request),
  };

  async function send<T>(method: 'GET' | 'POST', url: string, request: NetworkRequestOptions = {}, timeout?: number): Promise<NetworkResponse<T>> {
    const pipelineRequest = createPipelineRequest({ url, method, headers: createHttpHeaders(request.headers), body: request.body, timeout });
    try {
      const response = await pipeline.sendRequest(httpClient, pipelineRequest);
      let body: unknown = {};
      try {
        body = JSON.parse(response.bodyAsText ?? '{}');
      } catch {
        // msal turns a body it cannot read into its own error; an empty object lets it.
      }
      return { headers: response.headers.toJSON(), body: body as T, status: response.status };
    } catch (error) {
      module.lastError = error;
      throw error;
    }
  }

  return module;
}
