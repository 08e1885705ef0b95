import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultPlan } from '../faults';
import { listen, readBody, sendJson, type RunningServer } from '../net';
import type { TlsMaterial } from '../tls';
import { SigningKey } from './signing';

/**
 * Entra ID, as much of it as a daemon meets: the v2.0 OpenID configuration and JWKS, the v2.0
 * token endpoint for the client credentials grant (RS256 JWTs; AADSTS-shaped errors), and the
 * App Service managed-identity endpoint (IDENTITY_ENDPOINT / IDENTITY_HEADER, api-version
 * 2019-08-01) that DefaultAzureCredential uses inside a Function App. That one is plain http on
 * loopback, as in App Service. Faults (token-503, token-429) come from a shared FaultPlan (`plan`),
 * taken by the client-credentials token requests only.
 */

export interface AppRegistration {
  clientId: string;
  /** Object id of its service principal: the `oid` of its tokens. */
  servicePrincipalId: string;
  secrets: string[];
  /** Application permissions granted with admin consent, per resource (audience) URL. */
  appRoles: Record<string, string[]>;
}

export interface ManagedIdentity {
  clientId: string;
  principalId: string;
}

export interface EntraOptions {
  tenantId: string;
  tenantDomains: string[];
  tls: TlsMaterial;
  /** Resource (audience) URLs this tenant knows, e.g. the Graph base URL and https://vault.azure.net. */
  resources: string[];
  tokenLifetimeSeconds?: number;
  plan?: FaultPlan;
  /** Told every access token issued (the leak scan of local/scan-run.ts looks for them in logs). */
  onTokenIssued?: (token: string) => void;
}

export interface EntraCounters {
  discovery: number;
  tokenRequests: number;
  tokensIssued: number;
  managedIdentityTokens: number;
  /** Token requests answered with an injected fault. */
  faultsInjected: number;
}

export class EntraStandIn {
  readonly signingKey = new SigningKey();
  readonly apps = new Map<string, AppRegistration>();
  readonly identities = new Map<string, ManagedIdentity>();
  readonly identityHeader = randomUUID();
  readonly counters: EntraCounters = { discovery: 0, tokenRequests: 0, tokensIssued: 0, managedIdentityTokens: 0, faultsInjected: 0 };
  /** The shared fault plan (token-503, token-429). */
  plan: FaultPlan | undefined;
  #server: RunningServer | undefined;
  #identityServer: RunningServer | undefined;

  constructor(private readonly options: EntraOptions) {
    this.plan = options.plan;
  }

  get url(): string {
    if (this.#server === undefined) throw new Error('Entra stand-in not started');
    return this.#server.url;
  }
  /** IDENTITY_ENDPOINT */
  get identityEndpoint(): string {
    if (this.#identityServer === undefined) throw new Error('Entra stand-in not started');
    return `${this.#identityServer.url}/msi/token`;
  }
  get tenantId(): string {
    return this.options.tenantId;
  }
  /** The issuer of every token this authority signs. */
  get issuer(): string {
    return `${this.url}/${this.options.tenantId}/v2.0`;
  }

  async start(): Promise<void> {
    this.#server = await listen((req, res) => void this.#handle(req, res), this.options.tls);
    this.#identityServer = await listen((req, res) => this.#handleIdentity(req, res), undefined);
  }

  async stop(): Promise<void> {
    await Promise.all([this.#server?.close(), this.#identityServer?.close()]);
  }

  /** A resource (audience) tokens may be issued for, e.g. the Graph stand-in's URL once it listens. */
  addResource(resource: string): void {
    this.options.resources.push(resource);
  }

  registerApp(app: AppRegistration): void {
    this.apps.set(app.clientId.toLowerCase(), app);
  }

  registerIdentity(identity: ManagedIdentity): void {
    this.identities.set(identity.clientId.toLowerCase(), identity);
  }

  #tenantOf(segment: string): boolean {
    const s = segment.toLowerCase();
    return s === this.options.tenantId.toLowerCase() || this.options.tenantDomains.some((d) => d.toLowerCase() === s);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const [tenant, ...rest] = url.pathname.split('/').filter((p) => p !== '');
    const route = rest.join('/');
    if (tenant === undefined) return sendJson(res, 404, { error: 'not_found' });
    if (!this.#tenantOf(tenant)) {
      return this.#aadError(res, 400, 'invalid_tenant', 90002, `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`);
    }
    const base = `${this.url}/${this.options.tenantId}`;
    if (req.method === 'GET' && route === 'v2.0/.well-known/openid-configuration') {
      this.counters.discovery++;
      return sendJson(res, 200, {
        token_endpoint: `${base}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        jwks_uri: `${base}/discovery/v2.0/keys`,
        response_modes_supported: ['query', 'fragment', 'form_post'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        issuer: this.issuer,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
        end_session_endpoint: `${base}/oauth2/v2.0/logout`,
        tenant_region_scope: 'EU',
        cloud_instance_name: 'local',
      });
    }
    if (req.method === 'GET' && route === 'discovery/v2.0/keys') return sendJson(res, 200, this.signingKey.jwks());
    if (req.method === 'POST' && route === 'oauth2/v2.0/token') return this.#token(req, res, tenant);
    return sendJson(res, 404, { error: 'not_found', error_description: `No route ${req.method ?? ''} ${url.pathname}` });
  }

  async #token(req: IncomingMessage, res: ServerResponse, tenant: string): Promise<void> {
    this.counters.tokenRequests++;
    const form = new URLSearchParams(await readBody(req));
    const [fault] = this.plan?.take('token') ?? [];
    if (fault !== undefined) {
      this.counters.faultsInjected++;
      if (fault.name === 'token-429') {
        return this.#aadError(res, 429, 'temporarily_unavailable', 90055, 'TenantThrottlingError - There are too many incoming requests. Please try again later.', { 'retry-after': '1' });
      }
      return this.#aadError(res, 503, 'temporarily_unavailable', 90033, 'A transient error has occurred. Please try again.');
    }
    let clientId = form.get('client_id') ?? '';
    let secret = form.get('client_secret') ?? '';
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    if (basic?.[1] !== undefined) {
      const [id, pass] = Buffer.from(basic[1], 'base64').toString('utf8').split(':');
      clientId = decodeURIComponent(id ?? '');
      secret = decodeURIComponent(pass ?? '');
    }
    if (form.get('grant_type') !== 'client_credentials') {
      return this.#aadError(res, 400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${form.get('grant_type') ?? ''}'.`);
    }
    const app = this.apps.get(clientId.toLowerCase());
    if (app === undefined) {
      return this.#aadError(res, 400, 'unauthorized_client', 700016, `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`);
    }
    if (secret === '' || !app.secrets.includes(secret)) {
      return this.#aadError(res, 401, 'invalid_client', 7000215, `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.clientId}'.`);
    }
    const scope = (form.get('scope') ?? '').split(' ').find((s) => s !== '' && !['openid', 'profile', 'offline_access'].includes(s)) ?? '';
    if (!scope.endsWith('/.default')) {
      return this.#aadError(res, 400, 'invalid_scope', 1002012, `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`);
    }
    const resource = scope.slice(0, -'/.default'.length);
    if (!this.options.resources.includes(resource)) {
      return this.#aadError(res, 400, 'invalid_resource', 500011, `The resource principal named ${resource} was not found in the tenant named ${tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`);
    }
    const lifetime = this.options.tokenLifetimeSeconds ?? 3599;
    const roles = app.appRoles[resource] ?? [];
    const accessToken = this.signingKey.sign(
      {
        aud: resource,
        iss: this.issuer,
        tid: this.options.tenantId,
        appid: app.clientId,
        azp: app.clientId,
        oid: app.servicePrincipalId,
        sub: app.servicePrincipalId,
        idtyp: 'app',
        ver: '2.0',
        ...(roles.length > 0 ? { roles } : {}),
      },
      lifetime,
    );
    this.counters.tokensIssued++;
    this.options.onTokenIssued?.(accessToken);
    sendJson(res, 200, { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: accessToken }, { 'cache-control': 'no-store, no-cache' });
  }

  #handleIdentity(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const correlationId = randomUUID();
    if (url.pathname !== '/msi/token' || req.method !== 'GET') return sendJson(res, 404, { statusCode: 404, message: 'Not found', correlationId });
    if (req.headers['x-identity-header'] !== this.identityHeader) {
      return sendJson(res, 401, { statusCode: 401, message: 'The X-IDENTITY-HEADER header is missing or wrong.', correlationId });
    }
    if (url.searchParams.get('api-version') !== '2019-08-01') {
      return sendJson(res, 400, { statusCode: 400, message: `Unsupported api-version '${url.searchParams.get('api-version') ?? ''}'.`, correlationId });
    }
    const resource = (url.searchParams.get('resource') ?? '').replace(/\/$/, '');
    if (resource === '') return sendJson(res, 400, { statusCode: 400, message: 'The resource parameter is required.', correlationId });
    const clientId = url.searchParams.get('client_id') ?? url.searchParams.get('mi_res_id') ?? '';
    const identity = clientId === '' ? [...this.identities.values()][0] : this.identities.get(clientId.toLowerCase());
    if (identity === undefined) return sendJson(res, 400, { statusCode: 400, message: 'Unable to load the proper Managed Identity.', correlationId });
    const lifetime = this.options.tokenLifetimeSeconds ?? 3599;
    const accessToken = this.signingKey.sign(
      { aud: resource, iss: this.issuer, tid: this.options.tenantId, appid: identity.clientId, azp: identity.clientId, oid: identity.principalId, sub: identity.principalId, idtyp: 'app', ver: '1.0' },
      lifetime,
    );
    this.counters.managedIdentityTokens++;
    this.options.onTokenIssued?.(accessToken);
    sendJson(res, 200, {
      access_token: accessToken,
      expires_on: String(Math.floor(Date.now() / 1000) + lifetime),
      resource,
      token_type: 'Bearer',
      client_id: identity.clientId,
    });
  }

  #aadError(res: ServerResponse, status: number, error: string, code: number, text: string, headers: Record<string, string> = {}): void {
    const traceId = randomUUID();
    const correlationId = randomUUID();
    const timestamp = new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
    sendJson(res, status, {
      error,
      error_description: `AADSTS${code}: ${text} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `${this.url}/error?code=${code}`,
    }, headers);
  }
}
