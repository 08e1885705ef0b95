import { X509Certificate, constants as cryptoConstants, randomUUID, verify as verifySignature, type KeyObject } from 'node:crypto';
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
 *
 * The client credentials grant takes the credentials Entra ID takes: a client secret, or a client
 * assertion (`client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`,
 * `client_assertion=<JWT>`) of two kinds: a certificate assertion (signed with the private key of a
 * certificate registered on the app: registerCertificate), or a federated one (a token of a trusted
 * issuer matching a federated identity credential of the app: registerFederatedCredential), e.g. a
 * managed identity's token for api://AzureADTokenExchange from the endpoint below. See
 * #checkAssertion for what is checked, with which AADSTS error, and where each text comes from.
 */

export interface AppRegistration {
  clientId: string;
  /** Object id of its service principal: the `oid` of its tokens. */
  servicePrincipalId: string;
  /** May be empty: an app that signs in with certificates or federated credentials only. */
  secrets: string[];
  /**
   * Secrets of the app whose end date has passed (expireSecret): still known to Entra, so it
   * answers AADSTS7000222 (expired) for them, not 7000215 (wrong secret).
   */
  expiredSecrets?: string[];
  /** Application permissions granted with admin consent, per resource (audience) URL. */
  appRoles: Record<string, string[]>;
  /** Certificates (public keys) registered on the app: added by registerCertificate. */
  certificates?: RegisteredCertificate[];
  /** Federated identity credentials of the app: added by registerFederatedCredential. */
  federatedCredentials?: FederatedCredential[];
}

/** A certificate registered on an app (its keyCredentials entry): what a certificate assertion is checked against. */
export interface RegisteredCertificate {
  pem: string;
  /** base64url of the SHA-256 of the DER certificate: the `x5t#S256` header of an assertion it signs. */
  thumbprintSha256: string;
  /** base64url of the SHA-1 of the DER certificate: the `x5t` header (the deprecated SHA-1 thumbprint). */
  thumbprintSha1: string;
  /** The SHA-1 thumbprint in upper-case hex, as the portal shows it. */
  hexThumbprintSha1: string;
  notBefore: Date;
  notAfter: Date;
  publicKey: KeyObject;
}

/** A federated identity credential: a token whose `iss` and `sub` equal these (case-sensitive) and whose `aud` is one of `audiences`. */
export interface FederatedCredential {
  issuer: string;
  subject: string;
  audiences: string[];
  name?: string;
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
  /** Lifetime of managed-identity tokens (default: tokenLifetimeSeconds, else 3599). See EntraStandIn.identityTokenLifetimeSeconds. */
  identityTokenLifetimeSeconds?: number;
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
  /** Client assertions accepted, by kind. */
  certificateAssertionsAccepted: number;
  federatedAssertionsAccepted: number;
}

export const jwtBearerAssertionType = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/**
 * The audiences of the token exchange a managed identity (or any workload) presents as a federated
 * credential: public cloud, US Government, China. A federated credential names one of them.
 */
export const tokenExchangeAudiences: readonly string[] = ['api://AzureADTokenExchange', 'api://AzureADTokenExchangeUSGov', 'api://AzureADTokenExchangeChina'];
/**
 * The application id of the public "AAD Token Exchange Endpoint": Entra's own v2.0 tokens for
 * api://AzureADTokenExchange carry it as `aud`, and Entra matches it to a federated credential that
 * names api://AzureADTokenExchange. Accepted as that alias here.
 */
export const tokenExchangeAppId = 'fb60f99c-7a34-4190-8149-302f77469936';

/** Tolerance on a client assertion's `exp` and `nbf`: 5 minutes, Microsoft.IdentityModel's default clock skew. */
const assertionClockSkewSeconds = 300;
const certificateCredentialsDocs = 'https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials';

/**
 * Signature algorithms accepted in a certificate assertion. Entra's answer to another (AADSTS5002738,
 * as seen live in 2023) listed 'RS256,RS384,RS512'; msal-node 2.11+ signs PS256 (RSA-PSS, SHA-256,
 * salt as long as the digest) when given a SHA-256 thumbprint, and Entra takes it, so PS256 is added.
 */
const assertionAlgorithms: Record<string, { hash: string; pssSaltLength?: number }> = {
  RS256: { hash: 'sha256' },
  RS384: { hash: 'sha384' },
  RS512: { hash: 'sha512' },
  PS256: { hash: 'sha256', pssSaltLength: 32 },
};

interface ParsedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

/** An AADSTS answer: HTTP status, OAuth error, code, text. */
interface AadFailure {
  status: number;
  error: string;
  code: number;
  text: string;
}

type AssertionCheck = { ok: true; kind: 'certificate' | 'federated' } | { ok: false; failure: AadFailure };

export class EntraStandIn {
  readonly signingKey = new SigningKey();
  readonly apps = new Map<string, AppRegistration>();
  readonly identities = new Map<string, ManagedIdentity>();
  readonly identityHeader = randomUUID();
  readonly counters: EntraCounters = {
    discovery: 0,
    tokenRequests: 0,
    tokensIssued: 0,
    managedIdentityTokens: 0,
    faultsInjected: 0,
    certificateAssertionsAccepted: 0,
    federatedAssertionsAccepted: 0,
  };
  /** The shared fault plan (token-503, token-429). */
  plan: FaultPlan | undefined;
  /**
   * Lifetime in seconds of the managed-identity tokens issued from now on; undefined: the token
   * lifetime (3599 by default). Tests set it low, or negative for a token already expired (Entra
   * allows 300 seconds of clock skew on an assertion, so -301 or less is one it rejects).
   */
  identityTokenLifetimeSeconds: number | undefined;
  /** How far Entra's clock is ahead of this machine's when it checks assertion times (a client with a wrong clock); default 0. */
  clockOffsetSeconds = 0;
  #server: RunningServer | undefined;
  #identityServer: RunningServer | undefined;

  constructor(private readonly options: EntraOptions) {
    this.plan = options.plan;
    this.identityTokenLifetimeSeconds = options.identityTokenLifetimeSeconds;
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
    app.certificates ??= [];
    app.federatedCredentials ??= [];
    this.apps.set(app.clientId.toLowerCase(), app);
  }

  /**
   * Uploads a certificate (PEM; its public key only is used) to a registered app, as
   * "Certificates & secrets > Upload certificate" does. Its thumbprints are computed from the DER
   * bytes (SHA-256 and SHA-1) and its validity is kept: an assertion signed with it is refused once
   * notAfter is past. Returns the registration (splice it out of app.certificates to remove it).
   */
  registerCertificate(clientId: string, certificatePem: string): RegisteredCertificate {
    const app = this.#registeredApp(clientId);
    const x509 = new X509Certificate(certificatePem);
    const sha256 = Buffer.from(x509.fingerprint256.replace(/:/g, ''), 'hex');
    const sha1 = Buffer.from(x509.fingerprint.replace(/:/g, ''), 'hex');
    const certificate: RegisteredCertificate = {
      pem: x509.toString(),
      thumbprintSha256: sha256.toString('base64url'),
      thumbprintSha1: sha1.toString('base64url'),
      hexThumbprintSha1: sha1.toString('hex').toUpperCase(),
      notBefore: new Date(x509.validFrom),
      notAfter: new Date(x509.validTo),
      publicKey: x509.publicKey,
    };
    (app.certificates ??= []).push(certificate);
    return certificate;
  }

  /**
   * Adds a federated identity credential to a registered app. For a managed identity of this
   * tenant: issuer = this.issuer (`<authority>/<tenant id>/v2.0`), subject = its principal (object)
   * id, audiences = ['api://AzureADTokenExchange'].
   */
  registerFederatedCredential(clientId: string, credential: FederatedCredential): FederatedCredential {
    const app = this.#registeredApp(clientId);
    const registered: FederatedCredential = { ...credential, audiences: [...credential.audiences] };
    (app.federatedCredentials ??= []).push(registered);
    return registered;
  }

  /**
   * Lets a client secret of a registered app pass its end date, as a secret does after its 6, 12
   * or 24 months: from now on Entra answers it with AADSTS7000222 ("The provided client secret
   * keys for app '…' are expired."), the text Entra sends (quoted in many public error reports;
   * the error-code reference lists 7000222 as InvalidClientSecretExpiredKeysProvided).
   */
  expireSecret(clientId: string, secret: string): void {
    const app = this.#registeredApp(clientId);
    if (!app.secrets.includes(secret)) throw new Error(`App ${clientId} has no such secret`);
    app.secrets = app.secrets.filter((s) => s !== secret);
    (app.expiredSecrets ??= []).push(secret);
  }

  #registeredApp(clientId: string): AppRegistration {
    const app = this.apps.get(clientId.toLowerCase());
    if (app === undefined) throw new Error(`No app registration with client id ${clientId}`);
    return app;
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
      return this.#aadError(
        res,
        400,
        'invalid_tenant',
        90002,
        `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
      );
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
        return this.#aadError(
          res,
          429,
          'temporarily_unavailable',
          90055,
          'TenantThrottlingError - There are too many incoming requests. Please try again later.',
          { 'retry-after': '1' },
        );
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
      return this.#aadError(
        res,
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      );
    }
    const assertion = form.get('client_assertion') ?? '';
    let assertionKind: 'certificate' | 'federated' | undefined;
    if (assertion !== '') {
      const assertionType = form.get('client_assertion_type') ?? '';
      const check: AssertionCheck =
        secret !== ''
          ? // Entra's answer to both credentials at once is documented nowhere we found (msal refuses to send
            // both); RFC 6749 section 2.3 says a client MUST NOT use more than one authentication method, so
            // the request is refused with the generic AADSTS90023 (InvalidRequest) and a text of ours.
            {
              ok: false,
              failure: {
                status: 400,
                error: 'invalid_request',
                code: 90023,
                text: "The authentication service request is not valid: it carries both 'client_secret' and 'client_assertion'. Send one client credential.",
              },
            }
          : assertionType === ''
            ? { ok: false, failure: missingField('client_assertion_type') }
            : assertionType !== jwtBearerAssertionType
              ? // An assertion of another type is not a credential Entra takes (inferred: no documented text).
                { ok: false, failure: noCredential() }
              : this.#checkAssertion(assertion, app);
      if (!check.ok) return this.#aadError(res, check.failure.status, check.failure.error, check.failure.code, check.failure.text);
      assertionKind = check.kind;
    } else if (secret === '') {
      const failure = noCredential();
      return this.#aadError(res, failure.status, failure.error, failure.code, failure.text);
    } else if (app.expiredSecrets?.includes(secret) === true) {
      return this.#aadError(
        res,
        401,
        'invalid_client',
        7000222,
        `The provided client secret keys for app '${app.clientId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`,
      );
    } else if (!app.secrets.includes(secret)) {
      return this.#aadError(
        res,
        401,
        'invalid_client',
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.clientId}'.`,
      );
    }
    const scope = (form.get('scope') ?? '').split(' ').find((s) => s !== '' && !['openid', 'profile', 'offline_access'].includes(s)) ?? '';
    if (!scope.endsWith('/.default')) {
      return this.#aadError(
        res,
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
    }
    const resource = scope.slice(0, -'/.default'.length);
    if (!this.options.resources.includes(resource)) {
      return this.#aadError(
        res,
        400,
        'invalid_resource',
        500011,
        `The resource principal named ${resource} was not found in the tenant named ${tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
      );
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
    if (assertionKind === 'certificate') this.counters.certificateAssertionsAccepted++;
    if (assertionKind === 'federated') this.counters.federatedAssertionsAccepted++;
    this.options.onTokenIssued?.(accessToken);
    sendJson(
      res,
      200,
      { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: accessToken },
      { 'cache-control': 'no-store, no-cache' },
    );
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
    let resource = (url.searchParams.get('resource') ?? '').replace(/\/$/, '');
    if (resource === '') return sendJson(res, 400, { statusCode: 400, message: 'The resource parameter is required.', correlationId });
    // Clients pass the exchange audience with or without a scope suffix; the token's aud has none.
    const withoutDefault = resource.replace(/\/\.default$/, '');
    const exchange = tokenExchangeAudiences.includes(withoutDefault);
    if (exchange) resource = withoutDefault;
    const clientId = url.searchParams.get('client_id') ?? url.searchParams.get('mi_res_id') ?? '';
    const identity = clientId === '' ? [...this.identities.values()][0] : this.identities.get(clientId.toLowerCase());
    if (identity === undefined) return sendJson(res, 400, { statusCode: 400, message: 'Unable to load the proper Managed Identity.', correlationId });
    const lifetime = this.identityTokenLifetimeSeconds ?? this.options.tokenLifetimeSeconds ?? 3599;
    // A token for the exchange is the one a federated credential names: the v2.0 issuer
    // (<authority>/<tenant id>/v2.0), sub = the identity's principal (object) id, ver 2.0.
    // (Entra's own v2.0 tokens for it carry aud = tokenExchangeAppId; here aud is the resource as asked.)
    const accessToken = this.signingKey.sign(
      {
        aud: resource,
        iss: this.issuer,
        tid: this.options.tenantId,
        appid: identity.clientId,
        azp: identity.clientId,
        oid: identity.principalId,
        sub: identity.principalId,
        idtyp: 'app',
        ver: exchange ? '2.0' : '1.0',
      },
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

  /**
   * A client assertion, checked as Entra ID checks it. Where the texts come from (all observed
   * answers of login.microsoftonline.com, quoted in public sources):
   * - AADSTS50027 "JWT token is invalid or malformed.", AADSTS90014 (a required claim missing),
   *   AADSTS5002738 (algorithm), AADSTS5002723 (no thumbprint), AADSTS700021 (iss/sub is not the
   *   client_id), AADSTS700024 (time range): live answers recorded in MSAL.NET's test constants
   *   (AzureAD/microsoft-authentication-library-for-dotnet, TestConstants.cs, December 2023);
   *   invalid_client for those MSAL.NET wraps as "a configuration issue", invalid_request otherwise.
   * - AADSTS700023 "Client assertion audience claim does not match Realm issuer.": the Azure SDK
   *   troubleshooting guides (ClientAssertionCredential), for an `aud` other than the token endpoint.
   *   (Not AADSTS50013 or 700212: those are for user assertions (OBO) and federated audiences.)
   * - AADSTS700027: "The certificate with identifier used to sign the client assertion is not
   *   registered on application. [Reason - The key was not found., ...]" for an unknown thumbprint;
   *   "Client assertion contains an invalid signature. [Reason - The key used is expired., ...]" for
   *   an expired certificate (Microsoft's AD Connect troubleshooting quotes it); "... [Reason - The
   *   provided signature value did not match the expected signature value., ...]" for a bad signature
   *   (MSAL Python's documentation quotes it).
   * - AADSTS70021 "No matching federated identity record found for presented assertion. Assertion
   *   Issuer: '…'. Assertion Subject: '…'. Assertion Audience: '…'.": 400 invalid_request, as in the
   *   AKS workload identity troubleshooting guide and many recorded answers, for an app without any
   *   federated credential; AADSTS700211/700212/700213 (issuer, audience, subject not matched) when
   *   the app has some (federatedMismatch).
   * Not modelled: keys named by `kid` (keyCredential ids), trusted subject name + issuer (SNI)
   * certificates (x5c is accepted and ignored: the thumbprint decides), a maximum assertion lifetime
   * (none documented) and jti replay (Entra takes the same assertion again: msal-node reuses its
   * assertion for up to 10 minutes). A federated assertion is one whose `iss` is a URL, as every
   * federated credential's issuer is; only this stand-in's own tokens can be verified (its signing key).
   */
  #checkAssertion(assertion: string, app: AppRegistration): AssertionCheck {
    const fail = (status: number, error: string, code: number, text: string): AssertionCheck => ({ ok: false, failure: { status, error, code, text } });
    const jwt = parseJwt(assertion);
    if (jwt === undefined) return fail(400, 'invalid_request', 50027, 'JWT token is invalid or malformed.');
    const { header, payload } = jwt;
    for (const claim of ['iss', 'sub', 'aud']) {
      if (payload[claim] === undefined || payload[claim] === '') return { ok: false, failure: missingField(claim) };
    }
    const iss = payload['iss'];
    const sub = payload['sub'];
    const aud: unknown = payload['aud'];
    const audiences = Array.isArray(aud) ? aud : [aud];
    if (typeof iss !== 'string' || typeof sub !== 'string' || !audiences.every((a): a is string => typeof a === 'string')) {
      return fail(400, 'invalid_request', 50027, 'JWT token is invalid or malformed.');
    }
    const now = Date.now() / 1000 + this.clockOffsetSeconds;
    const timeRange = (): AssertionCheck | undefined => {
      const exp = typeof payload['exp'] === 'number' ? payload['exp'] : 0;
      const nbf = typeof payload['nbf'] === 'number' ? payload['nbf'] : undefined;
      if (exp > now - assertionClockSkewSeconds && (nbf === undefined || nbf <= now + assertionClockSkewSeconds)) return undefined;
      const from = nbf ?? (typeof payload['iat'] === 'number' ? payload['iat'] : 0);
      return fail(
        401,
        'invalid_client',
        700024,
        `Client assertion is not within its valid time range. Current time: ${entraTime(now)}, assertion valid from ${entraTime(from)}, expiry time of assertion ${entraTime(exp)}. Review the documentation at ${certificateCredentialsDocs} .`,
      );
    };

    if (/^https?:\/\//i.test(iss)) {
      // Federated: a federated identity credential of the app must name this issuer, subject and audience.
      const mismatch = federatedMismatch(app.federatedCredentials ?? [], iss, sub, audiences);
      if (mismatch !== undefined) return fail(400, 'invalid_request', mismatch.code, mismatch.text);
      // Entra verifies it with the keys the issuer publishes (its JWKS): here, this stand-in's signing key.
      // (The text for a federated assertion that fails verification is not documented: 700027 with its reasons, as for a certificate.)
      if (iss !== this.issuer || header['kid'] !== this.signingKey.kid) {
        return fail(
          401,
          'invalid_client',
          700027,
          `Client assertion failed signature validation. [Reason - The key was not found., Assertion Issuer: '${iss}']`,
        );
      }
      if (header['alg'] !== 'RS256' || !verifyJwt(jwt, this.signingKey.publicKey)) {
        return fail(
          401,
          'invalid_client',
          700027,
          `Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value., Assertion Issuer: '${iss}']`,
        );
      }
      return timeRange() ?? { ok: true, kind: 'federated' };
    }

    // Certificate: signed by the app itself with the key of a certificate registered on it.
    const alg = typeof header['alg'] === 'string' ? header['alg'] : '';
    if (assertionAlgorithms[alg] === undefined) {
      return fail(
        401,
        'invalid_client',
        5002738,
        `Invalid JWT token. '${alg}' is not a supported signature algorithm. Supported signing algorithms are: '${Object.keys(assertionAlgorithms).join(',')}'`,
      );
    }
    const x5tS256 = typeof header['x5t#S256'] === 'string' ? header['x5t#S256'] : undefined;
    const x5t = typeof header['x5t'] === 'string' ? header['x5t'] : undefined;
    if (x5tS256 === undefined && x5t === undefined) {
      return fail(
        401,
        'invalid_client',
        5002723,
        'Invalid JWT token. No certificate SHA-1 thumbprint, certificate SHA-256 thumbprint, nor keyId specified in token header.',
      );
    }
    if (iss.toLowerCase() !== app.clientId.toLowerCase() || sub.toLowerCase() !== app.clientId.toLowerCase()) {
      return fail(
        401,
        'invalid_client',
        700021,
        `Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at ${certificateCredentialsDocs} .`,
      );
    }
    const thumbprint = Buffer.from(x5tS256 ?? x5t ?? '', 'base64url');
    const certificate = (app.certificates ?? []).find((c) =>
      Buffer.from(x5tS256 !== undefined ? c.thumbprintSha256 : c.thumbprintSha1, 'base64url').equals(thumbprint),
    );
    const shown = thumbprint.toString('hex').toUpperCase();
    if (certificate === undefined) {
      return fail(
        401,
        'invalid_client',
        700027,
        `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${shown}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${app.clientId}'. Review the documentation at https://docs.microsoft.com/en-us/graph/api/application-addkey .]`,
      );
    }
    const found = `Found key 'Start=${keyTime(certificate.notBefore)}, End=${keyTime(certificate.notAfter)}'`;
    if (certificate.notAfter.getTime() <= Date.now()) {
      return fail(
        401,
        'invalid_client',
        700027,
        `Client assertion contains an invalid signature. [Reason - The key used is expired., Thumbprint of key used by client: '${shown}', ${found}]`,
      );
    }
    if (!verifyJwt(jwt, certificate.publicKey)) {
      return fail(
        401,
        'invalid_client',
        700027,
        `Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '${shown}', ${found}]`,
      );
    }
    // The token endpoint of this tenant, by id or by any verified domain (Entra: https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token).
    const accepted = [this.options.tenantId, ...this.options.tenantDomains].map((t) => `${this.url}/${t}/oauth2/v2.0/token`.toLowerCase());
    if (!audiences.some((a) => accepted.includes(a.toLowerCase()))) {
      return fail(
        401,
        'invalid_client',
        700023,
        `Client assertion audience claim does not match Realm issuer. Review the documentation at ${certificateCredentialsDocs} .`,
      );
    }
    const outOfRange = timeRange();
    if (outOfRange !== undefined) return outOfRange;
    if (typeof payload['jti'] !== 'string' || payload['jti'] === '') return { ok: false, failure: missingField('jti') };
    return { ok: true, kind: 'certificate' };
  }

  #aadError(res: ServerResponse, status: number, error: string, code: number, text: string, headers: Record<string, string> = {}): void {
    const traceId = randomUUID();
    const correlationId = randomUUID();
    const timestamp = new Date()
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, 'Z');
    sendJson(
      res,
      status,
      {
        error,
        error_description: `AADSTS${code}: ${text} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
        error_codes: [code],
        timestamp,
        trace_id: traceId,
        correlation_id: correlationId,
        error_uri: `${this.url}/error?code=${code}`,
      },
      headers,
    );
  }
}

const federationDocs = 'https://learn.microsoft.com/entra/workload-id/workload-identity-federation';

/**
 * Why no federated identity credential of the app matches an assertion, as Entra says it:
 * AADSTS700211 (no credential names the issuer), 700213 (the issuer is known, the subject is not),
 * 700212 (issuer and subject known, the audience is not); with no federated credential at all, the
 * older AADSTS70021 naming all three. Texts as Entra sends them (quoted in Microsoft Q&A answers and
 * public CI logs: "No matching federated identity record found for presented assertion issuer
 * '…'. Please check your federated identity credential Subject, Audience and Issuer against the
 * presented assertion."); the order of the checks is inferred (issuer, subject, audience), since no
 * page documents it.
 */
function federatedMismatch(
  credentials: readonly FederatedCredential[],
  iss: string,
  sub: string,
  audiences: readonly string[],
): { code: number; text: string } | undefined {
  const audienceMatches = (c: FederatedCredential): boolean =>
    audiences.some((a) => c.audiences.some((ca) => ca === a || (a === tokenExchangeAppId && ca === tokenExchangeAudiences[0])));
  const check = 'Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.';
  if (credentials.length === 0) {
    return {
      code: 70021,
      text: `No matching federated identity record found for presented assertion. Assertion Issuer: '${iss}'. Assertion Subject: '${sub}'. Assertion Audience: '${audiences.join(',')}'. https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation`,
    };
  }
  const byIssuer = credentials.filter((c) => c.issuer === iss);
  if (byIssuer.length === 0)
    return { code: 700211, text: `No matching federated identity record found for presented assertion issuer '${iss}'. ${check} ${federationDocs}` };
  const bySubject = byIssuer.filter((c) => c.subject === sub);
  if (bySubject.length === 0)
    return { code: 700213, text: `No matching federated identity record found for presented assertion subject '${sub}'. ${check} ${federationDocs}` };
  if (!bySubject.some(audienceMatches))
    return {
      code: 700212,
      text: `No matching federated identity record found for presented assertion audience '${audiences.join(',')}'. ${check} ${federationDocs}`,
    };
  return undefined;
}

/** AADSTS90014 for a required field (form parameter or claim) that is missing. */
function missingField(name: string): AadFailure {
  return {
    status: 400,
    error: 'invalid_request',
    code: 90014,
    text: `The required field '${name}' is missing from the credential. Ensure that you have all the necessary parameters for the login request.`,
  };
}

/** AADSTS7000216: a client credentials request with no credential Entra takes. */
function noCredential(): AadFailure {
  return {
    status: 401,
    error: 'invalid_client',
    code: 7000216,
    text: "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
  };
}

/** A compact JWS split and decoded; undefined when it is not one (three base64url parts, JSON objects). */
function parseJwt(token: string): ParsedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) return undefined;
  const [h = '', p = '', s = ''] = parts;
  try {
    const header: unknown = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
    const payload: unknown = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    if (!isRecord(header) || !isRecord(payload)) return undefined;
    return { header, payload, signingInput: `${h}.${p}`, signature: Buffer.from(s, 'base64url') };
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The JWS signature, by the algorithm its header names (RS*: PKCS#1 v1.5; PS256: PSS with a salt as long as the digest). */
function verifyJwt(jwt: ParsedJwt, key: KeyObject): boolean {
  const alg = jwt.header['alg'];
  const algorithm = typeof alg === 'string' ? assertionAlgorithms[alg] : undefined;
  if (algorithm === undefined) return false;
  try {
    const padding =
      algorithm.pssSaltLength === undefined
        ? { key, padding: cryptoConstants.RSA_PKCS1_PADDING }
        : { key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: algorithm.pssSaltLength };
    return verifySignature(algorithm.hash, Buffer.from(jwt.signingInput), padding, jwt.signature);
  } catch {
    return false;
  }
}

/** 2023-12-11T23:52:19.6223401Z: the 7-digit .NET form Entra's AADSTS700024 text uses. */
function entraTime(seconds: number): string {
  const iso = new Date(Math.round(seconds * 1000)).toISOString();
  return `${iso.slice(0, -1)}0000Z`;
}

/** 06/29/2021 21:13:15 (UTC): how an AADSTS700027 text shows a key's validity. */
function keyTime(date: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(date.getUTCMonth() + 1)}/${two(date.getUTCDate())}/${date.getUTCFullYear()} ${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`;
}
