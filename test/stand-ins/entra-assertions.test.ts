import assert from 'node:assert/strict';
import { X509Certificate, constants, generateKeyPairSync, randomBytes, randomUUID, sign, type KeyObject } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ConfidentialClientApplication } from '@azure/msal-node';
import jwt from 'jsonwebtoken';
import forge from 'node-forge';
import { jwtBearerAssertionType, type AppRegistration } from '../../local/stand-ins/entra';
import { startLocalStack, localTenantDomain, type LocalStack } from '../../local/stack';

// Client assertions at the Entra stand-in's v2.0 token endpoint, over HTTPS: certificate
// assertions (built by hand, PS256 and RS256, and by msal-node itself) and federated ones (a
// managed identity's token for api://AzureADTokenExchange), with every AADSTS answer checked.

const exchange = 'api://AzureADTokenExchange';

interface TestCertificate {
  pem: string;
  privateKey: KeyObject;
  privateKeyPem: string;
  /** Base64 DER, as an x5c entry. */
  der: string;
  sha256Hex: string;
  sha1Hex: string;
}

/** A self-signed RSA 2048 certificate (node:crypto makes the key, node-forge the certificate). */
function makeCertificate(validity: { notBefore?: Date; notAfter?: Date } = {}): TestCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  certificate.serialNumber = `01${randomBytes(8).toString('hex')}`;
  certificate.validity.notBefore = validity.notBefore ?? new Date(Date.now() - 3600_000);
  certificate.validity.notAfter = validity.notAfter ?? new Date(Date.now() + 30 * 24 * 3600_000);
  const name = [{ name: 'commonName', value: 'graph-user-sync assertion test' }];
  certificate.setSubject(name);
  certificate.setIssuer(name);
  certificate.sign(forge.pki.privateKeyFromPem(privateKeyPem), forge.md.sha256.create());
  const pem = forge.pki.certificateToPem(certificate);
  const x509 = new X509Certificate(pem);
  return {
    pem,
    privateKey,
    privateKeyPem,
    der: x509.raw.toString('base64'),
    sha256Hex: x509.fingerprint256.replace(/:/g, ''),
    sha1Hex: x509.fingerprint.replace(/:/g, ''),
  };
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** A compact JWS signed PS256 (RSA-PSS, SHA-256, salt 32), RS256, or with the signature of another key. */
function signJwt(header: Record<string, unknown>, payload: Record<string, unknown>, key: KeyObject): string {
  const input = `${base64url(header)}.${base64url(payload)}`;
  const signature =
    header['alg'] === 'PS256'
      ? sign('sha256', Buffer.from(input), { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
      : sign('sha256', Buffer.from(input), { key, padding: constants.RSA_PKCS1_PADDING });
  return `${input}.${signature.toString('base64url')}`;
}

interface AadErrorBody {
  error: string;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
}

describe('Entra stand-in: client assertions', () => {
  let stack: LocalStack;
  let tokenEndpoint: string;
  let certificate: TestCertificate;

  before(async () => {
    stack = await startLocalStack();
    tokenEndpoint = `${stack.entra.url}/${stack.tenantId}/oauth2/v2.0/token`;
    certificate = makeCertificate();
    stack.entra.registerCertificate(stack.clientId, certificate.pem);
  });
  after(() => stack.stop());

  function claims(overrides: Record<string, unknown> = {}, clientId = stack.clientId): Record<string, unknown> {
    const now = Math.floor(Date.now() / 1000);
    return { aud: tokenEndpoint, iss: clientId, sub: clientId, jti: randomUUID(), nbf: now, iat: now, exp: now + 600, ...overrides };
  }

  /** What msal-node 2.11+ sends for a SHA-256 thumbprint: PS256, x5t#S256, x5c. */
  function certificateAssertion(
    options: { header?: Record<string, unknown>; claims?: Record<string, unknown>; key?: KeyObject; cert?: TestCertificate; clientId?: string } = {},
  ): string {
    const cert = options.cert ?? certificate;
    const header = { alg: 'PS256', typ: 'JWT', 'x5t#S256': Buffer.from(cert.sha256Hex, 'hex').toString('base64url'), x5c: [cert.der], ...options.header };
    return signJwt(header, claims(options.claims, options.clientId), options.key ?? cert.privateKey);
  }

  async function postToken(form: Record<string, string>, tenant = stack.tenantId): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${stack.entra.url}/${tenant}/oauth2/v2.0/token`, { method: 'POST', body: new URLSearchParams(form) });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  function withAssertion(
    assertion: string,
    clientId = stack.clientId,
    extra: Record<string, string> = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    return postToken({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_assertion_type: jwtBearerAssertionType,
      client_assertion: assertion,
      scope: `${stack.graph.url}/.default`,
      ...extra,
    });
  }

  async function accessToken(assertion: string, clientId = stack.clientId): Promise<string> {
    const { status, body } = await withAssertion(assertion, clientId);
    assert.equal(status, 200, JSON.stringify(body));
    return body['access_token'] as string;
  }

  /** An AADSTS answer in Entra's shape: status, error, code first in the description, and the given parts of its text. */
  function assertAadError(
    answer: { status: number; body: Record<string, unknown> },
    status: number,
    error: string,
    code: number,
    ...parts: (string | RegExp)[]
  ): void {
    const body = answer.body as unknown as AadErrorBody;
    assert.equal(answer.status, status, JSON.stringify(body));
    assert.equal(body.error, error);
    assert.deepEqual(body.error_codes, [code]);
    assert.ok(body.error_description.startsWith(`AADSTS${code}: `), body.error_description);
    for (const part of parts) {
      if (typeof part === 'string') assert.ok(body.error_description.includes(part), `${JSON.stringify(part)} not in: ${body.error_description}`);
      else assert.match(body.error_description, part);
    }
    assert.match(body.error_description, /Trace ID: [0-9a-f-]{36} Correlation ID: [0-9a-f-]{36} Timestamp: /);
    assert.match(body.timestamp, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    assert.ok(body.trace_id !== '' && body.correlation_id !== '');
  }

  async function identityToken(resource: string, clientId = stack.identityClientId): Promise<{ status: number; body: Record<string, unknown> }> {
    const query = new URLSearchParams({ 'api-version': '2019-08-01', resource, client_id: clientId });
    const response = await fetch(`${stack.entra.identityEndpoint}?${query.toString()}`, { headers: { 'X-IDENTITY-HEADER': stack.entra.identityHeader } });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  async function exchangeToken(resource = exchange): Promise<string> {
    const { status, body } = await identityToken(resource);
    assert.equal(status, 200, JSON.stringify(body));
    return body['access_token'] as string;
  }

  function decode(token: string): Record<string, unknown> {
    return jwt.decode(token) as Record<string, unknown>;
  }

  /** The claims that make an app-only token what it is (not its times or ids). */
  function appOnlyClaims(token: string): Record<string, unknown> {
    const { aud, iss, tid, appid, azp, oid, sub, idtyp, ver, roles } = decode(token);
    return { aud, iss, tid, appid, azp, oid, sub, idtyp, ver, roles };
  }

  async function secretToken(): Promise<string> {
    const { status, body } = await postToken({
      grant_type: 'client_credentials',
      client_id: stack.clientId,
      client_secret: stack.clientSecret,
      scope: `${stack.graph.url}/.default`,
    });
    assert.equal(status, 200);
    return body['access_token'] as string;
  }

  async function readUsers(token: string): Promise<number> {
    const response = await fetch(`${stack.graph.url}/v1.0/users?$select=id&$top=5`, { headers: { authorization: `Bearer ${token}` } });
    await response.body?.cancel();
    return response.status;
  }

  describe('certificate assertions', () => {
    it('registers a certificate with its SHA-256 and SHA-1 thumbprints (base64url of the raw digests) and validity', () => {
      const cert = makeCertificate();
      const registered = stack.entra.registerCertificate(stack.clientId, cert.pem);
      assert.equal(registered.thumbprintSha256, Buffer.from(cert.sha256Hex, 'hex').toString('base64url'));
      assert.equal(registered.thumbprintSha1, Buffer.from(cert.sha1Hex, 'hex').toString('base64url'));
      assert.equal(registered.hexThumbprintSha1, cert.sha1Hex.toUpperCase());
      assert.ok(registered.notAfter.getTime() > Date.now() && registered.notBefore.getTime() < Date.now());
      assert.throws(() => stack.entra.registerCertificate(randomUUID(), cert.pem), /No app registration/);
    });

    it('accepts a PS256 assertion with x5t#S256 and x5c: the same app-only token as with the secret, which Graph takes', async () => {
      const accepted = stack.entra.counters.certificateAssertionsAccepted;
      const token = await accessToken(certificateAssertion());
      assert.deepEqual(appOnlyClaims(token), appOnlyClaims(await secretToken()));
      assert.deepEqual(decode(token)['roles'], ['User.Read.All', 'GroupMember.Read.All']);
      assert.equal(stack.entra.counters.certificateAssertionsAccepted - accepted, 1);
      assert.equal(await readUsers(token), 200);
    });

    it('accepts an RS256 assertion with the SHA-1 x5t (the deprecated thumbprint), and aud in the domain form', async () => {
      const header = { alg: 'RS256', typ: 'JWT', x5t: Buffer.from(certificate.sha1Hex, 'hex').toString('base64url') };
      await accessToken(signJwt(header, claims(), certificate.privateKey));
      const domainAudience = `${stack.entra.url}/${localTenantDomain}/oauth2/v2.0/token`;
      await accessToken(certificateAssertion({ claims: { aud: domainAudience } }));
    });

    it('tolerates 5 minutes of clock skew on exp and nbf', async () => {
      const now = Math.floor(Date.now() / 1000);
      await accessToken(certificateAssertion({ claims: { exp: now - 240, nbf: now - 600 } }));
      await accessToken(certificateAssertion({ claims: { nbf: now + 240 } }));
    });

    it('serves an app with no secret at all, which a secret cannot sign in', async () => {
      const app: AppRegistration = {
        clientId: randomUUID(),
        servicePrincipalId: randomUUID(),
        secrets: [],
        appRoles: { [stack.graph.url]: ['User.Read.All'] },
      };
      stack.entra.registerApp(app);
      const cert = makeCertificate();
      stack.entra.registerCertificate(app.clientId, cert.pem);
      const token = await accessToken(certificateAssertion({ cert, clientId: app.clientId }), app.clientId);
      assert.equal(decode(token)['appid'], app.clientId);
      assert.equal(decode(token)['oid'], app.servicePrincipalId);
      assert.equal(await readUsers(token), 200);
      const secret = await postToken({
        grant_type: 'client_credentials',
        client_id: app.clientId,
        client_secret: 'anything',
        scope: `${stack.graph.url}/.default`,
      });
      assertAadError(secret, 401, 'invalid_client', 7000215, 'Invalid client secret provided');
      const none = await postToken({ grant_type: 'client_credentials', client_id: app.clientId, scope: `${stack.graph.url}/.default` });
      assertAadError(
        none,
        401,
        'invalid_client',
        7000216,
        "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
      );
    });

    it('AADSTS7000222 for a secret past its end date, apart from 7000215 for a wrong one', async () => {
      const app: AppRegistration = {
        clientId: randomUUID(),
        servicePrincipalId: randomUUID(),
        secrets: ['old-value', 'new-value'],
        appRoles: { [stack.graph.url]: ['User.Read.All'] },
      };
      stack.entra.registerApp(app);
      const withSecret = (secret: string): ReturnType<typeof postToken> =>
        postToken({ grant_type: 'client_credentials', client_id: app.clientId, client_secret: secret, scope: `${stack.graph.url}/.default` });
      assert.equal((await withSecret('old-value')).status, 200);
      stack.entra.expireSecret(app.clientId, 'old-value');
      assertAadError(
        await withSecret('old-value'),
        401,
        'invalid_client',
        7000222,
        `The provided client secret keys for app '${app.clientId}' are expired.`,
        'https://aka.ms/NewClientSecret',
      );
      assertAadError(await withSecret('never-was'), 401, 'invalid_client', 7000215, 'Invalid client secret provided');
      assert.equal((await withSecret('new-value')).status, 200, 'the other secret still signs in');
    });

    it('AADSTS700027 for a certificate not registered on the app, naming its thumbprint and the app', async () => {
      const stranger = makeCertificate();
      assertAadError(
        await withAssertion(certificateAssertion({ cert: stranger })),
        401,
        'invalid_client',
        700027,
        'The certificate with identifier used to sign the client assertion is not registered on application.',
        '[Reason - The key was not found.',
        `Thumbprint of key used by client: '${stranger.sha256Hex.toUpperCase()}'`,
        `configured keys for app Id '${stack.clientId}'`,
      );
    });

    it('AADSTS700027 for a signature that does not verify with the registered certificate', async () => {
      const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
      assertAadError(
        await withAssertion(certificateAssertion({ key: other })),
        401,
        'invalid_client',
        700027,
        'Client assertion contains an invalid signature.',
        '[Reason - The provided signature value did not match the expected signature value.',
        `Thumbprint of key used by client: '${certificate.sha256Hex.toUpperCase()}'`,
        /Found key 'Start=\d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d, End=\d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d'/,
      );
      // A PS256 header over an RS256 (PKCS#1 v1.5) signature is a bad signature too.
      const header = { alg: 'PS256', 'x5t#S256': Buffer.from(certificate.sha256Hex, 'hex').toString('base64url') };
      const input = `${base64url(header)}.${base64url(claims())}`;
      const pkcs1 = sign('sha256', Buffer.from(input), certificate.privateKey).toString('base64url');
      assertAadError(await withAssertion(`${input}.${pkcs1}`), 401, 'invalid_client', 700027, 'did not match the expected signature value');
    });

    it('AADSTS700027 for a registered certificate that has expired', async () => {
      const expired = makeCertificate({ notBefore: new Date(Date.now() - 10 * 24 * 3600_000), notAfter: new Date(Date.now() - 24 * 3600_000) });
      const registered = stack.entra.registerCertificate(stack.clientId, expired.pem);
      assert.ok(registered.notAfter.getTime() < Date.now());
      assertAadError(
        await withAssertion(certificateAssertion({ cert: expired })),
        401,
        'invalid_client',
        700027,
        'Client assertion contains an invalid signature. [Reason - The key used is expired.',
        `Thumbprint of key used by client: '${expired.sha256Hex.toUpperCase()}'`,
        'Found key',
      );
    });

    it('AADSTS700024 for an expired assertion or one not yet valid, with the times', async () => {
      const now = Math.floor(Date.now() / 1000);
      const expired = await withAssertion(certificateAssertion({ claims: { nbf: now - 1200, iat: now - 1200, exp: now - 600 } }));
      assertAadError(
        expired,
        401,
        'invalid_client',
        700024,
        'Client assertion is not within its valid time range.',
        /Current time: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z, assertion valid from /,
        `expiry time of assertion ${new Date((now - 600) * 1000).toISOString().slice(0, 19)}.0000000Z`,
        'active-directory-certificate-credentials',
      );
      assertAadError(
        await withAssertion(certificateAssertion({ claims: { nbf: now + 900 } })),
        401,
        'invalid_client',
        700024,
        `assertion valid from ${new Date((now + 900) * 1000).toISOString().slice(0, 19)}`,
      );
      assertAadError(
        await withAssertion(certificateAssertion({ claims: { exp: undefined } })),
        401,
        'invalid_client',
        700024,
        'expiry time of assertion 1970-01-01T00:00:00.0000000Z',
      );
    });

    it("AADSTS700023 for an audience other than this tenant's token endpoint", async () => {
      for (const aud of [
        `https://login.microsoftonline.com/${stack.tenantId}/oauth2/v2.0/token`,
        `${stack.entra.url}/${randomUUID()}/oauth2/v2.0/token`,
        stack.entra.issuer,
      ]) {
        assertAadError(
          await withAssertion(certificateAssertion({ claims: { aud } })),
          401,
          'invalid_client',
          700023,
          'Client assertion audience claim does not match Realm issuer.',
        );
      }
    });

    it('AADSTS700021 when iss or sub is not the client_id', async () => {
      assertAadError(
        await withAssertion(certificateAssertion({ claims: { iss: randomUUID() } })),
        401,
        'invalid_client',
        700021,
        "Client assertion application identifier doesn't match 'client_id' parameter.",
      );
      assertAadError(await withAssertion(certificateAssertion({ claims: { sub: randomUUID() } })), 401, 'invalid_client', 700021, "doesn't match 'client_id'");
    });

    it('AADSTS50027 for a malformed JWT; AADSTS90014 for a missing claim or assertion type', async () => {
      for (const malformed of [
        'not-a-jwt',
        'a.b',
        `${base64url({ alg: 'PS256' })}.bm90IGpzb24.c2ln`,
        `${base64url({ alg: 'PS256' })}.${base64url(['array'])}.c2ln`,
      ]) {
        assertAadError(await withAssertion(malformed), 400, 'invalid_request', 50027, 'JWT token is invalid or malformed.');
      }
      assertAadError(
        await withAssertion(certificateAssertion({ claims: { jti: undefined } })),
        400,
        'invalid_request',
        90014,
        "The required field 'jti' is missing from the credential.",
      );
      assertAadError(
        await withAssertion(certificateAssertion({ claims: { aud: undefined } })),
        400,
        'invalid_request',
        90014,
        "The required field 'aud' is missing",
      );
      const noType = await postToken({
        grant_type: 'client_credentials',
        client_id: stack.clientId,
        client_assertion: certificateAssertion(),
        scope: `${stack.graph.url}/.default`,
      });
      assertAadError(noType, 400, 'invalid_request', 90014, "The required field 'client_assertion_type' is missing");
      const otherType = await withAssertion(certificateAssertion(), stack.clientId, {
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer',
      });
      assertAadError(otherType, 401, 'invalid_client', 7000216);
    });

    it('AADSTS5002738 for an unsupported algorithm, AADSTS5002723 without a thumbprint', async () => {
      assertAadError(
        await withAssertion(certificateAssertion({ header: { alg: 'HS256' } })),
        401,
        'invalid_client',
        5002738,
        "Invalid JWT token. 'HS256' is not a supported signature algorithm. Supported signing algorithms are: 'RS256,RS384,RS512,PS256'",
      );
      const noThumbprint = signJwt({ alg: 'PS256', typ: 'JWT' }, claims(), certificate.privateKey);
      assertAadError(
        await withAssertion(noThumbprint),
        401,
        'invalid_client',
        5002723,
        'No certificate SHA-1 thumbprint, certificate SHA-256 thumbprint, nor keyId specified in token header.',
      );
    });

    it('refuses a client_secret and a client_assertion together (AADSTS90023, invalid_request)', async () => {
      const both = await withAssertion(certificateAssertion(), stack.clientId, { client_secret: stack.clientSecret });
      assertAadError(both, 400, 'invalid_request', 90023, "'client_secret' and 'client_assertion'");
    });

    it('takes the assertion msal-node builds for clientCertificate { thumbprintSha256, privateKey, x5c }', async () => {
      const accepted = stack.entra.counters.certificateAssertionsAccepted;
      const app = new ConfidentialClientApplication({
        auth: {
          clientId: stack.clientId,
          authority: `${stack.entra.url}/${stack.tenantId}`,
          knownAuthorities: [new URL(stack.entra.url).host],
          clientCertificate: { thumbprintSha256: certificate.sha256Hex, privateKey: certificate.privateKeyPem, x5c: certificate.pem },
        },
      });
      const result = await app.acquireTokenByClientCredential({ scopes: [`${stack.graph.url}/.default`] });
      assert.ok(result !== null);
      assert.deepEqual(appOnlyClaims(result.accessToken), appOnlyClaims(await secretToken()));
      assert.equal(stack.entra.counters.certificateAssertionsAccepted - accepted, 1);
      assert.equal(await readUsers(result.accessToken), 200);
    });

    it('msal-node surfaces AADSTS700027 for a certificate the app does not know', async () => {
      const stranger = makeCertificate();
      const app = new ConfidentialClientApplication({
        auth: {
          clientId: stack.clientId,
          authority: `${stack.entra.url}/${stack.tenantId}`,
          knownAuthorities: [new URL(stack.entra.url).host],
          clientCertificate: { thumbprintSha256: stranger.sha256Hex, privateKey: stranger.privateKeyPem },
        },
      });
      await assert.rejects(app.acquireTokenByClientCredential({ scopes: [`${stack.graph.url}/.default`] }), (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.equal((error as Error & { errorCode?: string }).errorCode, 'invalid_client');
        assert.match(error.message, /AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application/);
        return true;
      });
    });
  });

  describe('federated assertions (managed identity as a federated identity credential)', () => {
    before(() => {
      stack.entra.registerFederatedCredential(stack.clientId, {
        name: 'sync-identity',
        issuer: stack.entra.issuer,
        subject: stack.identityPrincipalId,
        audiences: [exchange],
      });
    });

    it('issues the managed identity a v2.0 token for the exchange: iss, sub = principal id, aud as asked (with or without /.default)', async () => {
      for (const resource of [exchange, `${exchange}/.default`]) {
        const answer = await identityToken(resource);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.equal(answer.body['resource'], exchange);
        const token = decode(answer.body['access_token'] as string);
        assert.equal(token['iss'], `${stack.entra.url}/${stack.tenantId}/v2.0`);
        assert.equal(token['sub'], stack.identityPrincipalId);
        assert.equal(token['oid'], stack.identityPrincipalId);
        assert.equal(token['tid'], stack.tenantId);
        assert.equal(token['aud'], exchange);
        assert.equal(token['ver'], '2.0');
      }
      for (const resource of ['api://AzureADTokenExchangeUSGov', 'api://AzureADTokenExchangeChina/.default']) {
        const token = decode(await exchangeToken(resource));
        assert.equal(token['aud'], resource.replace('/.default', ''));
        assert.equal(token['ver'], '2.0');
      }
      // Other resources keep their v1.0 tokens.
      assert.equal(decode(await exchangeToken('https://vault.azure.net'))['ver'], '1.0');
    });

    it('accepts the exchange token as a client assertion: the same app-only token as with the secret', async () => {
      const accepted = stack.entra.counters.federatedAssertionsAccepted;
      const token = await accessToken(await exchangeToken());
      assert.deepEqual(appOnlyClaims(token), appOnlyClaims(await secretToken()));
      assert.equal(stack.entra.counters.federatedAssertionsAccepted - accepted, 1);
      assert.equal(await readUsers(token), 200);
    });

    it("serves an app with no secret, through msal-node's clientAssertion callback fetching the managed identity token", async () => {
      const app: AppRegistration = {
        clientId: randomUUID(),
        servicePrincipalId: randomUUID(),
        secrets: [],
        appRoles: { [stack.graph.url]: ['User.Read.All'] },
      };
      stack.entra.registerApp(app);
      stack.entra.registerFederatedCredential(app.clientId, { issuer: stack.entra.issuer, subject: stack.identityPrincipalId, audiences: [exchange] });
      const accepted = stack.entra.counters.federatedAssertionsAccepted;
      let callbacks = 0;
      const client = new ConfidentialClientApplication({
        auth: {
          clientId: app.clientId,
          authority: `${stack.entra.url}/${stack.tenantId}`,
          knownAuthorities: [new URL(stack.entra.url).host],
          clientAssertion: async () => {
            callbacks++;
            return exchangeToken();
          },
        },
      });
      const result = await client.acquireTokenByClientCredential({ scopes: [`${stack.graph.url}/.default`] });
      assert.ok(result !== null);
      assert.equal(callbacks, 1);
      assert.equal(decode(result.accessToken)['appid'], app.clientId);
      assert.deepEqual(decode(result.accessToken)['roles'], ['User.Read.All']);
      assert.equal(stack.entra.counters.federatedAssertionsAccepted - accepted, 1);
      assert.equal(await readUsers(result.accessToken), 200);
    });

    it('AADSTS700213, 700212, 700211 when no federated credential matches the subject, the audience, the issuer (case-sensitive); 70021 when the app has none', async () => {
      const other = { clientId: randomUUID(), principalId: randomUUID() };
      stack.entra.registerIdentity(other);
      const { body } = await identityToken(exchange, other.clientId);
      const unknownSubject = await withAssertion(body['access_token'] as string);
      const check = 'Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.';
      assertAadError(
        unknownSubject,
        400,
        'invalid_request',
        700213,
        `No matching federated identity record found for presented assertion subject '${other.principalId}'. ${check}`,
      );
      // A token for another audience (Key Vault) is no exchange token.
      assertAadError(
        await withAssertion(await exchangeToken('https://vault.azure.net')),
        400,
        'invalid_request',
        700212,
        "No matching federated identity record found for presented assertion audience 'https://vault.azure.net'.",
      );
      // The subject is compared case-sensitively.
      const upper = { clientId: randomUUID(), principalId: stack.identityPrincipalId.toUpperCase() };
      stack.entra.registerIdentity(upper);
      const upperToken = (await identityToken(exchange, upper.clientId)).body['access_token'] as string;
      assertAadError(await withAssertion(upperToken), 400, 'invalid_request', 700213, `assertion subject '${upper.principalId}'.`);
      // An issuer no federated credential names (checked before the signature: no key of that issuer is needed).
      const part = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
      const now = Math.floor(Date.now() / 1000);
      const foreign = [
        part({ alg: 'RS256', typ: 'JWT' }),
        part({ iss: 'https://token.actions.githubusercontent.com', sub: 'repo:o/r:ref:refs/heads/main', aud: exchange, iat: now, nbf: now, exp: now + 600 }),
        'c2ln',
      ].join('.');
      assertAadError(await withAssertion(foreign), 400, 'invalid_request', 700211, "presented assertion issuer 'https://token.actions.githubusercontent.com'.");
      // An app without any federated credential: the older code naming all three.
      const app: AppRegistration = { clientId: randomUUID(), servicePrincipalId: randomUUID(), secrets: [], appRoles: {} };
      stack.entra.registerApp(app);
      assertAadError(
        await withAssertion(await exchangeToken(), app.clientId),
        400,
        'invalid_request',
        70021,
        'No matching federated identity record found for presented assertion.',
        `Assertion Issuer: '${stack.entra.issuer}'.`,
        `Assertion Subject: '${stack.identityPrincipalId}'.`,
        `Assertion Audience: '${exchange}'.`,
      );
    });

    it('AADSTS700024 for an expired managed identity token', async () => {
      stack.entra.identityTokenLifetimeSeconds = -301;
      let expired: string;
      try {
        expired = await exchangeToken();
      } finally {
        stack.entra.identityTokenLifetimeSeconds = undefined;
      }
      assertAadError(
        await withAssertion(expired),
        401,
        'invalid_client',
        700024,
        'Client assertion is not within its valid time range.',
        'expiry time of assertion',
      );
      // Within the 5 minutes of skew it is still taken.
      stack.entra.identityTokenLifetimeSeconds = -200;
      try {
        await accessToken(await exchangeToken());
      } finally {
        stack.entra.identityTokenLifetimeSeconds = undefined;
      }
    });

    it('AADSTS700027 for a federated assertion whose signature does not verify', async () => {
      const [header = '', payload = '', signature = ''] = (await exchangeToken()).split('.');
      const claimsOf = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
      const tampered = `${header}.${base64url({ ...claimsOf, exp: Number(claimsOf['exp']) + 3600 })}.${signature}`;
      assertAadError(
        await withAssertion(tampered),
        401,
        'invalid_client',
        700027,
        'Client assertion failed signature validation.',
        'did not match the expected signature value',
      );
      // Signed by a key that is not the issuer's.
      const forged = jwt.sign(claimsOf, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, { algorithm: 'RS256', keyid: 'not-the-issuers-key' });
      assertAadError(await withAssertion(forged), 401, 'invalid_client', 700027, 'Client assertion failed signature validation.', 'The key was not found');
    });
  });
});
