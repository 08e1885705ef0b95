import assert from 'node:assert/strict';
import { X509Certificate, createHash, createPrivateKey, randomUUID } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ManagedIdentityCredential } from '@azure/identity';
import { CertificateClient } from '@azure/keyvault-certificates';
import { SecretClient } from '@azure/keyvault-secrets';
import { RestError } from '@azure/core-rest-pipeline';
import forge from 'node-forge';
import type { LocalStack } from '../../local/stack';
import { certificateOnlyPfxBase64, generateCertificate, type GeneratedCertificate } from '../../local/stand-ins/certificates';
import { keyVaultResource } from '../../local/stand-ins/key-vault';
import { startStackForTests } from '../helpers/stack';

// Certificates in the Key Vault stand-in, read as Key Vault serves them: over REST with a
// managed-identity token, and through the real @azure/keyvault-secrets and
// @azure/keyvault-certificates clients (managed identity, App Service protocol, challenge flow).

interface KeyVaultErrorBody {
  error: { code: string; message: string; innererror?: { code: string } };
}
interface Attributes {
  enabled: boolean;
  nbf: number;
  exp: number;
  created: number;
  updated: number;
  recoveryLevel?: string;
  recoverableDays?: number;
}
interface CertificateBundle {
  id: string;
  kid: string;
  sid: string;
  x5t: string;
  cer: string;
  attributes: Attributes;
  policy?: {
    id: string;
    key_props: { exportable: boolean; kty: string; key_size: number; reuse_key: boolean };
    secret_props: { contentType: string };
    x509_props: { subject: string; validity_months: number };
    issuer: { name: string };
  };
  pending?: unknown;
}
interface SecretBundle {
  value: string;
  contentType?: string;
  id: string;
  kid?: string;
  managed?: boolean;
  attributes: Attributes;
}
interface CertificateList {
  value: { id: string; x5t: string; attributes: Attributes }[];
  nextLink: string | null;
}

const version32 = /^[0-9a-f]{32}$/;
const colonless = (fingerprint: string): string => fingerprint.replace(/:/g, '');

/** PKCS#12 bag types (RFC 7292): keyBag, pkcs8ShroudedKeyBag, certBag. */
const keyBagOid = '1.2.840.113549.1.12.10.1.1';
const shroudedKeyBagOid = '1.2.840.113549.1.12.10.1.2';
const certBagOid = '1.2.840.113549.1.12.10.1.3';

/** The keys and certificates in a PFX, opened the way Key Vault's exports open: with the empty password. */
function openPfx(base64: string): { keys: forge.pki.PrivateKey[]; certs: forge.pki.Certificate[] } {
  const p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(Buffer.from(base64, 'base64').toString('binary')), '');
  const bags = (bagType: string): forge.pkcs12.Bag[] => p12.getBags({ bagType })[bagType] ?? [];
  return {
    keys: [...bags(shroudedKeyBagOid), ...bags(keyBagOid)].flatMap((b) => (b.key === undefined ? [] : [b.key])),
    certs: bags(certBagOid).flatMap((b) => (b.cert === undefined ? [] : [b.cert])),
  };
}

function derOf(cert: forge.pki.Certificate): Buffer {
  return Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
}

describe('generateCertificate', () => {
  let generated: GeneratedCertificate;
  before(() => {
    generated = generateCertificate({ commonName: 'graph-sync-app' });
  });

  it('is a self-signed RSA-2048 certificate whose forms and thumbprints agree with node:crypto', () => {
    const x509 = new X509Certificate(generated.der);
    assert.equal(x509.subject, 'CN=graph-sync-app');
    assert.equal(x509.issuer, 'CN=graph-sync-app');
    assert.equal(generated.subject, 'CN=graph-sync-app');
    assert.equal(x509.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.ok(x509.verify(x509.publicKey), 'self-signed');
    assert.equal(x509.ca, false);
    assert.deepEqual(x509.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.equal(generated.thumbprintSha1Hex, colonless(x509.fingerprint));
    assert.equal(generated.thumbprintSha256Hex, colonless(x509.fingerprint256));
    assert.equal(generated.x5tBase64Url, createHash('sha1').update(generated.der).digest('base64url'));
    assert.equal(Buffer.from(generated.x5tBase64Url, 'base64url').toString('hex').toUpperCase(), generated.thumbprintSha1Hex);
    assert.equal(generated.serialNumberHex, x509.serialNumber.toLowerCase());
    // Default validity: an hour ago to a year from now.
    assert.ok(Math.abs(new Date(x509.validFrom).getTime() - (Date.now() - 3600_000)) < 60_000, x509.validFrom);
    assert.ok(Math.abs(new Date(x509.validTo).getTime() - (Date.now() + 365 * 86400_000)) < 60_000, x509.validTo);
    assert.equal(generated.notAfter.getTime() - (generated.notAfter.getTime() % 1000), new Date(x509.validTo).getTime());
  });

  it('gives the key as PKCS#8 PEM, the certificate as PEM, and their concatenation as the PEM bundle', () => {
    assert.match(generated.privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n$/);
    assert.doesNotMatch(generated.privateKeyPem + generated.certificatePem, /\r/);
    assert.equal(generated.certificatePem, new X509Certificate(generated.der).toString());
    assert.ok(new X509Certificate(generated.certificatePem).checkPrivateKey(createPrivateKey(generated.privateKeyPem)));
    assert.equal(generated.pemBundle, generated.privateKeyPem + generated.certificatePem);
  });

  it('gives a PKCS#12 with the key and the certificate under the empty password, which OpenSSL opens too', () => {
    const { keys, certs } = openPfx(generated.pfxBase64);
    assert.equal(keys.length, 1);
    assert.equal(certs.length, 1);
    assert.ok(derOf(certs[0] as forge.pki.Certificate).equals(generated.der));
    const key = keys[0] as forge.pki.rsa.PrivateKey;
    assert.equal(
      forge.pki.privateKeyToPem(key).replace(/\r/g, ''),
      createPrivateKey(generated.privateKeyPem).export({ type: 'pkcs1', format: 'pem' }).toString(),
    );
    assert.doesNotThrow(() => createSecureContext({ pfx: Buffer.from(generated.pfxBase64, 'base64'), passphrase: '' }));
    const certificateOnly = openPfx(certificateOnlyPfxBase64(generated.certificatePem));
    assert.deepEqual([certificateOnly.keys.length, certificateOnly.certs.length], [0, 1]);
  });

  it('makes an already-expired certificate, or one with the validity given', () => {
    const expired = generateCertificate({ commonName: 'old', expired: true });
    const x509 = new X509Certificate(expired.der);
    assert.ok(new Date(x509.validTo).getTime() < Date.now(), x509.validTo);
    assert.ok(expired.notAfter.getTime() < Date.now());
    const notBefore = new Date('2030-01-01T00:00:00Z');
    const notAfter = new Date('2030-03-01T00:00:00Z');
    const future = new X509Certificate(generateCertificate({ notBefore, notAfter }).der);
    assert.equal(new Date(future.validFrom).toISOString(), notBefore.toISOString());
    assert.equal(new Date(future.validTo).toISOString(), notAfter.toISOString());
    assert.throws(() => generateCertificate({ notBefore: notAfter, notAfter: notBefore }), /notAfter/);
  });
});

describe('Key Vault stand-in: certificates', () => {
  let stack: LocalStack;
  let vault: string;
  /** Identities: the stack's (Secrets User + Certificate User), and one per role case. */
  const secretsOnly = { clientId: randomUUID(), principalId: randomUUID() };
  const certificatesOnly = { clientId: randomUUID(), principalId: randomUUID() };
  const noRole = { clientId: randomUUID(), principalId: randomUUID() };
  const tokens = new Map<string, string>();
  let first: GeneratedCertificate;
  let second: GeneratedCertificate;

  before(async () => {
    stack = await startStackForTests();
    vault = stack.keyVault.url;
    stack.keyVault.certificateUsers.add(stack.identityPrincipalId);
    for (const identity of [secretsOnly, certificatesOnly, noRole]) stack.entra.registerIdentity(identity);
    stack.keyVault.secretsUsers.add(secretsOnly.principalId);
    stack.keyVault.certificateUsers.add(certificatesOnly.principalId);
    first = generateCertificate({ commonName: 'sync-first' });
    second = generateCertificate({ commonName: 'sync-second' });
  });
  after(() => stack.stop());
  beforeEach(() => stack.faults.clear());

  /** A managed-identity token for Key Vault from the stand-in's App Service endpoint. */
  async function tokenFor(clientId = stack.identityClientId): Promise<string> {
    const cached = tokens.get(clientId);
    if (cached !== undefined) return cached;
    const response = await fetch(
      `${stack.entra.identityEndpoint}?api-version=2019-08-01&resource=${encodeURIComponent(keyVaultResource)}&client_id=${clientId}`,
      {
        headers: { 'x-identity-header': stack.entra.identityHeader },
      },
    );
    assert.equal(response.status, 200);
    const token = ((await response.json()) as { access_token: string }).access_token;
    tokens.set(clientId, token);
    return token;
  }

  async function get(path: string, options: { clientId?: string; apiVersion?: string; token?: string | null } = {}): Promise<Response> {
    const token = options.token === null ? undefined : (options.token ?? (await tokenFor(options.clientId)));
    const separator = path.includes('?') ? '&' : '?';
    return fetch(`${vault}${path}${separator}api-version=${options.apiVersion ?? '7.5'}`, {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });
  }

  async function json<T>(response: Response, status = 200): Promise<T> {
    const text = await response.text();
    assert.equal(response.status, status, text);
    return JSON.parse(text) as T;
  }

  function credential(clientId = stack.identityClientId): ManagedIdentityCredential {
    return new ManagedIdentityCredential({ clientId });
  }

  describe('over REST', () => {
    it('a PKCS#12 certificate: the CertificateBundle with its policy, and its managed secret holding key and certificate', async () => {
      const version = stack.keyVault.setCertificate('app-cert-pfx', first, { contentType: 'application/x-pkcs12' });
      assert.match(version, version32);
      const bundle = await json<CertificateBundle>(await get('certificates/app-cert-pfx/'));
      assert.equal(bundle.id, `${vault}certificates/app-cert-pfx/${version}`);
      assert.equal(bundle.kid, `${vault}keys/app-cert-pfx/${version}`);
      assert.equal(bundle.sid, `${vault}secrets/app-cert-pfx/${version}`);
      assert.equal(bundle.x5t, first.x5tBase64Url);
      assert.ok(Buffer.from(bundle.cer, 'base64').equals(first.der));
      assert.equal(colonless(new X509Certificate(Buffer.from(bundle.cer, 'base64')).fingerprint), first.thumbprintSha1Hex);
      assert.equal(Buffer.from(bundle.x5t, 'base64url').toString('hex').toUpperCase(), colonless(new X509Certificate(first.der).fingerprint));
      const { created, updated, ...attributes } = bundle.attributes;
      assert.deepEqual(attributes, {
        enabled: true,
        nbf: Math.floor(first.notBefore.getTime() / 1000),
        exp: Math.floor(first.notAfter.getTime() / 1000),
        recoveryLevel: 'Recoverable',
        recoverableDays: 90,
      });
      assert.ok(Math.abs(created - Date.now() / 1000) < 60 && updated === created);
      assert.deepEqual(bundle.policy?.key_props, { exportable: true, kty: 'RSA', key_size: 2048, reuse_key: false });
      assert.deepEqual(bundle.policy?.secret_props, { contentType: 'application/x-pkcs12' });
      assert.equal(bundle.policy?.x509_props.subject, 'CN=sync-first');
      assert.equal(bundle.policy?.x509_props.validity_months, 12);
      assert.deepEqual(bundle.policy?.issuer, { name: 'Self' });
      assert.equal(bundle.policy?.id, `${vault}certificates/app-cert-pfx/policy`);
      assert.equal(bundle.pending, undefined);

      const secret = await json<SecretBundle>(await get('secrets/app-cert-pfx/'));
      assert.equal(secret.id, bundle.sid);
      assert.equal(secret.kid, bundle.kid);
      assert.equal(secret.managed, true);
      assert.equal(secret.contentType, 'application/x-pkcs12');
      assert.deepEqual(secret.attributes, bundle.attributes);
      assert.equal(secret.value, first.pfxBase64);
      const { keys, certs } = openPfx(secret.value);
      assert.equal(keys.length, 1);
      assert.ok(derOf(certs[0] as forge.pki.Certificate).equals(first.der));
    });

    it('a PEM certificate: the secret is the private key PEM then the certificate PEM', async () => {
      const version = stack.keyVault.setCertificate('app-cert-pem', first, { contentType: 'application/x-pem-file' });
      const bundle = await json<CertificateBundle>(await get('certificates/app-cert-pem'));
      assert.deepEqual(bundle.policy?.secret_props, { contentType: 'application/x-pem-file' });
      const secret = await json<SecretBundle>(await get(`secrets/app-cert-pem/${version}`));
      assert.equal(secret.contentType, 'application/x-pem-file');
      assert.equal(secret.managed, true);
      assert.equal(secret.value, first.pemBundle);
      assert.match(
        secret.value,
        /^-----BEGIN PRIVATE KEY-----\n[^]+\n-----END PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----\n[^]+\n-----END CERTIFICATE-----\n$/,
      );
      const x509 = new X509Certificate(secret.value);
      assert.equal(colonless(x509.fingerprint256), first.thumbprintSha256Hex);
      assert.ok(x509.checkPrivateKey(createPrivateKey(secret.value)));
    });

    it('versions: the latest is the newest, a version by id comes without the policy, the list pages with maxresults and nextLink', async () => {
      const v1 = stack.keyVault.setCertificate('rotated', first);
      const v2 = stack.keyVault.setCertificate('rotated', second);
      assert.notEqual(v1, v2);
      const latest = await json<CertificateBundle>(await get('certificates/rotated/'));
      assert.equal(latest.id, `${vault}certificates/rotated/${v2}`);
      assert.equal(latest.x5t, second.x5tBase64Url);
      assert.equal(latest.policy?.x509_props.subject, 'CN=sync-second');
      const older = await json<CertificateBundle>(await get(`certificates/rotated/${v1}`));
      assert.equal(older.id, `${vault}certificates/rotated/${v1}`);
      assert.equal(older.x5t, first.x5tBase64Url);
      assert.equal(older.policy, undefined, 'a version asked for by id comes without the policy');
      assert.equal((await json<SecretBundle>(await get('secrets/rotated'))).value, second.pfxBase64);
      assert.equal((await json<SecretBundle>(await get(`secrets/rotated/${v1}`))).value, first.pfxBase64);

      const all = await json<CertificateList>(await get('certificates/rotated/versions'));
      assert.equal(all.nextLink, null);
      assert.deepEqual(
        all.value.map((v) => v.id),
        [v1, v2].sort().map((v) => `${vault}certificates/rotated/${v}`),
      );
      const item = all.value.find((v) => v.id.endsWith(v2));
      assert.equal(item?.x5t, second.x5tBase64Url);
      assert.deepEqual(Object.keys(item?.attributes ?? {}).sort(), ['created', 'enabled', 'exp', 'nbf', 'updated']);

      const ids: string[] = [];
      let response = await get('certificates/rotated/versions?maxresults=1');
      for (;;) {
        const page = await json<CertificateList>(response);
        assert.ok(page.value.length <= 1);
        ids.push(...page.value.map((v) => v.id));
        if (page.nextLink === null) break;
        assert.ok(page.nextLink.startsWith(`${vault}certificates/rotated/versions?`), page.nextLink);
        response = await fetch(page.nextLink, { headers: { authorization: `Bearer ${await tokenFor()}` } });
      }
      assert.deepEqual(
        ids,
        all.value.map((v) => v.id),
      );
      assert.equal((await get('certificates/rotated/versions?maxresults=26')).status, 400);
    });

    // Key Vault serves a disabled latest version as the latest certificate (enabled: false), and
    // withholds only its secret: "disabled versions will still be returned. Only the private portion
    // of certificate is not returned (through secret portion)" (Key Vault team, Azure/azure-cli#26044);
    // get-secret on a disabled secret is 403 Forbidden "Operation get is not allowed on a disabled
    // secret." with innererror SecretDisabled (Azure/azure-sdk-for-js#24756).
    it('a disabled latest version is still the latest certificate (enabled: false); its secret is 403 SecretDisabled', async () => {
      const v1 = stack.keyVault.setCertificate('disabled-latest', first);
      const v2 = stack.keyVault.setCertificate('disabled-latest', second, { enabled: false });
      const latest = await json<CertificateBundle>(await get('certificates/disabled-latest'));
      assert.equal(latest.id, `${vault}certificates/disabled-latest/${v2}`);
      assert.equal(latest.attributes.enabled, false);
      const byId = await json<CertificateBundle>(await get(`certificates/disabled-latest/${v2}`));
      assert.equal(byId.attributes.enabled, false);
      const denied = await json<KeyVaultErrorBody>(await get('secrets/disabled-latest'), 403);
      assert.deepEqual(denied, {
        error: { code: 'Forbidden', message: 'Operation get is not allowed on a disabled secret.', innererror: { code: 'SecretDisabled' } },
      });
      assert.equal((await json<SecretBundle>(await get(`secrets/disabled-latest/${v1}`))).value, first.pfxBase64);
      const listed = await json<CertificateList>(await get('certificates/disabled-latest/versions'));
      assert.deepEqual(
        listed.value.map((v) => [v.id.slice(-32), v.attributes.enabled]).sort(),
        [
          [v1, true],
          [v2, false],
        ].sort(),
      );
      // Enabling it again (update-certificate) brings its secret back.
      stack.keyVault.updateCertificateVersion('disabled-latest', v2, { enabled: true });
      assert.equal((await json<SecretBundle>(await get('secrets/disabled-latest'))).value, second.pfxBase64);
    });

    it('a non-exportable key: the secret still exists but holds only the certificate (PEM and PKCS#12)', async () => {
      stack.keyVault.setCertificate('pinned-pem', first, { contentType: 'application/x-pem-file', exportable: false });
      const pemCertificate = await json<CertificateBundle>(await get('certificates/pinned-pem'));
      assert.equal(pemCertificate.policy?.key_props.exportable, false);
      const pem = await json<SecretBundle>(await get('secrets/pinned-pem'));
      assert.equal(pem.managed, true);
      assert.equal(pem.value, first.certificatePem);
      assert.doesNotMatch(pem.value, /PRIVATE KEY/);
      assert.equal(pem.kid, pemCertificate.kid);

      stack.keyVault.setCertificate('pinned-pfx', first, { exportable: false });
      const pfx = await json<SecretBundle>(await get('secrets/pinned-pfx'));
      assert.equal(pfx.contentType, 'application/x-pkcs12');
      const { keys, certs } = openPfx(pfx.value);
      assert.equal(keys.length, 0, 'no key bag');
      assert.equal(certs.length, 1);
      assert.ok(derOf(certs[0] as forge.pki.Certificate).equals(first.der));
    });

    it("unknown certificates are 404 CertificateNotFound in Key Vault's error shape; the versions of an unknown name are an empty list", async () => {
      const missing = await json<KeyVaultErrorBody>(await get('certificates/no-such-cert/'), 404);
      assert.deepEqual(missing, {
        error: {
          code: 'CertificateNotFound',
          message:
            'A certificate with (name/id) no-such-cert was not found in this key vault. If you recently deleted this certificate you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182',
        },
      });
      stack.keyVault.setCertificate('known-cert', first);
      const unknownVersion = 'f'.repeat(32);
      const badVersion = await json<KeyVaultErrorBody>(await get(`certificates/known-cert/${unknownVersion}`), 404);
      assert.equal(badVersion.error.code, 'CertificateNotFound');
      assert.match(badVersion.error.message, new RegExp(`^A certificate with \\(name/id\\) known-cert/${unknownVersion} was not found`));
      assert.equal((await json<KeyVaultErrorBody>(await get(`secrets/known-cert/${unknownVersion}`), 404)).error.code, 'SecretNotFound');
      assert.equal((await json<KeyVaultErrorBody>(await get('certificates/no-such-cert/policy'), 404)).error.code, 'CertificateNotFound');
      assert.deepEqual(await json<CertificateList>(await get('certificates/no-such-cert/versions')), { value: [], nextLink: null });
    });

    it('RBAC: Certificate User reads certificates and their secrets; Secrets User only the secret; no role neither', async () => {
      stack.keyVault.setCertificate('rbac-cert', first);
      stack.keyVault.setSecret('rbac-plain', 'plain-value');
      const denied = stack.keyVault.counters.denied;

      const certificateForbidden = await json<KeyVaultErrorBody>(await get('certificates/rbac-cert', { clientId: secretsOnly.clientId }), 403);
      assert.equal(certificateForbidden.error.code, 'Forbidden');
      assert.equal(certificateForbidden.error.innererror?.code, 'ForbiddenByRbac');
      assert.match(certificateForbidden.error.message, /Action: 'Microsoft\.KeyVault\/vaults\/certificates\/read'/);
      assert.match(certificateForbidden.error.message, new RegExp(`oid=${secretsOnly.principalId}`));
      assert.equal((await get('certificates/rbac-cert/versions', { clientId: secretsOnly.clientId })).status, 403);
      assert.equal((await json<SecretBundle>(await get('secrets/rbac-cert', { clientId: secretsOnly.clientId }))).value, first.pfxBase64);

      // Key Vault Certificate User's data actions include secrets/getSecret/action.
      assert.equal((await get('certificates/rbac-cert', { clientId: certificatesOnly.clientId })).status, 200);
      assert.equal((await json<SecretBundle>(await get('secrets/rbac-cert', { clientId: certificatesOnly.clientId }))).value, first.pfxBase64);
      assert.equal((await json<SecretBundle>(await get('secrets/rbac-plain', { clientId: certificatesOnly.clientId }))).value, 'plain-value');

      const noCertificate = await json<KeyVaultErrorBody>(await get('certificates/rbac-cert', { clientId: noRole.clientId }), 403);
      assert.equal(noCertificate.error.innererror?.code, 'ForbiddenByRbac');
      const noSecret = await json<KeyVaultErrorBody>(await get('secrets/rbac-cert', { clientId: noRole.clientId }), 403);
      assert.match(noSecret.error.message, /Action: 'Microsoft\.KeyVault\/vaults\/secrets\/getSecret\/action'/);
      // Authorisation comes before existence: no role, no 404.
      assert.equal((await get('certificates/no-such-cert', { clientId: noRole.clientId })).status, 403);
      assert.equal(stack.keyVault.counters.denied - denied, 5);
    });

    it('kv-429 and kv-503 apply to certificate reads as to secret reads', async () => {
      stack.keyVault.setCertificate('faulty', first);
      stack.faults.arm('kv-429,kv-503');
      const throttled = await get('certificates/faulty');
      assert.equal(throttled.status, 429);
      assert.equal(throttled.headers.get('retry-after'), '1');
      assert.equal((await json<KeyVaultErrorBody>(throttled, 429)).error.code, 'Throttled');
      const unavailable = await get('secrets/faulty');
      assert.equal((await json<KeyVaultErrorBody>(unavailable, 503)).error.code, 'ServiceUnavailable');
      assert.equal((await get('certificates/faulty')).status, 200);
      assert.equal(stack.faults.injectedByName['kv-429'], 1);
      assert.equal(stack.faults.injectedByName['kv-503'], 1);
    });

    it('the 401 challenge and api-version: 7.x and the dated versions the SDKs send are accepted, others are 400 BadParameter', async () => {
      stack.keyVault.setCertificate('versioned', first);
      const challenges = stack.keyVault.counters.challenges;
      const challenge = await get('certificates/versioned', { token: null });
      assert.equal(challenge.status, 401);
      assert.equal(
        challenge.headers.get('www-authenticate'),
        `Bearer authorization="${stack.entra.url}/${stack.tenantId}", resource="https://vault.azure.net"`,
      );
      assert.equal(stack.keyVault.counters.challenges - challenges, 1);
      for (const apiVersion of ['7.0', '7.4', '7.6', '7.6-preview.2', '2025-07-01', '2026-04-01']) {
        assert.equal((await get('certificates/versioned', { apiVersion })).status, 200, apiVersion);
      }
      const bad = await json<KeyVaultErrorBody>(await get('certificates/versioned', { apiVersion: '1.0' }), 400);
      assert.deepEqual(bad.error, {
        code: 'BadParameter',
        message: 'The specified version (1.0) is not recognized. Consider using the latest supported version (2026-04-01).',
      });
    });

    it('plain secrets keep their shape, and a secret and a certificate cannot share a name', async () => {
      const version = stack.keyVault.setSecret('plain-secret', 'value-1');
      const secret = await json<SecretBundle & { tags: object }>(await get('secrets/plain-secret'));
      assert.deepEqual(Object.keys(secret).sort(), ['attributes', 'id', 'tags', 'value']);
      assert.equal(secret.id, `${vault}secrets/plain-secret/${version}`);
      assert.throws(() => stack.keyVault.setCertificate('plain-secret', first), /secret named "plain-secret"/);
      stack.keyVault.setCertificate('cert-name-taken', first);
      assert.throws(() => stack.keyVault.setSecret('cert-name-taken', 'x'), /managed secret/);
      assert.throws(() => stack.keyVault.setCertificate('bad_name', first), /not a valid object name/);
      assert.equal((await get('certificates/plain-secret')).status, 404);
    });
  });

  describe('through the real SDKs', () => {
    it('SecretClient (@azure/keyvault-secrets) reads certificate-backed secrets: value, contentType, managed, certificateKeyId', async () => {
      const pfxVersion = stack.keyVault.setCertificate('sdk-secret-pfx', first);
      const pemVersion = stack.keyVault.setCertificate('sdk-secret-pem', second, { contentType: 'application/x-pem-file' });
      const client = new SecretClient(vault, credential(), { disableChallengeResourceVerification: true });
      const pfx = await client.getSecret('sdk-secret-pfx');
      assert.equal(pfx.value, first.pfxBase64);
      assert.equal(pfx.properties.contentType, 'application/x-pkcs12');
      assert.equal(pfx.properties.managed, true);
      assert.equal(pfx.properties.certificateKeyId, `${vault}keys/sdk-secret-pfx/${pfxVersion}`);
      assert.equal(pfx.properties.version, pfxVersion);
      assert.equal(pfx.properties.enabled, true);
      assert.equal(pfx.properties.expiresOn?.getTime(), Math.floor(first.notAfter.getTime() / 1000) * 1000);
      const pem = await client.getSecret('sdk-secret-pem', { version: pemVersion });
      assert.equal(pem.value, second.pemBundle);
      assert.equal(pem.properties.contentType, 'application/x-pem-file');

      stack.keyVault.updateCertificateVersion('sdk-secret-pem', pemVersion, { enabled: false });
      await assert.rejects(client.getSecret('sdk-secret-pem'), (error: unknown) => {
        assert.ok(error instanceof RestError, String(error));
        assert.equal(error.statusCode, 403);
        assert.equal(error.code, 'Forbidden');
        return true;
      });
    });

    it('CertificateClient (@azure/keyvault-certificates) gets the certificate with its policy, a version, the versions and the policy', async () => {
      const v1 = stack.keyVault.setCertificate('sdk-cert', first, { contentType: 'application/x-pem-file' });
      const v2 = stack.keyVault.setCertificate('sdk-cert', second, { contentType: 'application/x-pem-file' });
      const challenges = stack.keyVault.counters.challenges;
      const client = new CertificateClient(vault, credential(), { disableChallengeResourceVerification: true });

      const latest = await client.getCertificate('sdk-cert');
      assert.ok(stack.keyVault.counters.challenges > challenges, 'the client went through the 401 challenge');
      assert.equal(latest.name, 'sdk-cert');
      assert.equal(latest.properties.version, v2);
      assert.equal(latest.properties.id, `${vault}certificates/sdk-cert/${v2}`);
      assert.equal(latest.secretId, `${vault}secrets/sdk-cert/${v2}`);
      assert.equal(latest.keyId, `${vault}keys/sdk-cert/${v2}`);
      assert.ok(latest.cer !== undefined && Buffer.from(latest.cer).equals(second.der));
      assert.ok(latest.properties.x509Thumbprint !== undefined);
      assert.equal(Buffer.from(latest.properties.x509Thumbprint).toString('base64url'), second.x5tBase64Url);
      assert.equal(latest.properties.x509ThumbprintString, colonless(new X509Certificate(second.der).fingerprint).toLowerCase());
      assert.equal(latest.properties.enabled, true);
      assert.equal(latest.properties.expiresOn?.getTime(), Math.floor(second.notAfter.getTime() / 1000) * 1000);
      assert.equal(latest.properties.notBefore?.getTime(), Math.floor(second.notBefore.getTime() / 1000) * 1000);
      assert.equal(latest.properties.recoveryLevel, 'Recoverable');
      assert.equal(latest.policy?.contentType, 'application/x-pem-file');
      assert.equal(latest.policy?.exportable, true);
      assert.equal(latest.policy?.keyType, 'RSA');
      assert.equal(latest.policy?.keySize, 2048);
      assert.equal(latest.policy?.subject, 'CN=sync-second');
      assert.equal(latest.policy?.issuerName, 'Self');
      assert.equal(latest.policy?.validityInMonths, 12);

      const older = await client.getCertificateVersion('sdk-cert', v1);
      assert.equal(older.properties.version, v1);
      assert.ok(older.cer !== undefined && Buffer.from(older.cer).equals(first.der));
      assert.equal('policy' in older, false);

      const policy = await client.getCertificatePolicy('sdk-cert');
      assert.equal(policy.subject, 'CN=sync-second');
      assert.equal(policy.contentType, 'application/x-pem-file');

      // Thirty versions of one certificate: more than one page of 25, so the client follows nextLink.
      for (let i = 0; i < 28; i++) stack.keyVault.setCertificate('sdk-cert', first, { contentType: 'application/x-pem-file', enabled: i % 2 === 0 });
      const listed: { version?: string; enabled?: boolean }[] = [];
      for await (const properties of client.listPropertiesOfCertificateVersions('sdk-cert'))
        listed.push({ version: properties.version, enabled: properties.enabled });
      assert.equal(listed.length, 30);
      assert.deepEqual(
        listed.map((p) => p.version),
        stack.keyVault
          .certificateVersions('sdk-cert')
          .map((v) => v.version)
          .sort(),
      );
      assert.equal(listed.filter((p) => p.enabled === false).length, 14);

      await assert.rejects(client.getCertificate('sdk-missing'), (error: unknown) => {
        assert.ok(error instanceof RestError, String(error));
        assert.equal(error.statusCode, 404);
        assert.equal(error.code, 'CertificateNotFound');
        return true;
      });
    });

    it('CertificateClient: a disabled latest version comes back disabled; a 503 is retried', async () => {
      stack.keyVault.setCertificate('sdk-disabled', first);
      const v2 = stack.keyVault.setCertificate('sdk-disabled', second, { enabled: false });
      const client = new CertificateClient(vault, credential(), { disableChallengeResourceVerification: true, retryOptions: { retryDelayInMs: 10 } });
      const latest = await client.getCertificate('sdk-disabled');
      assert.equal(latest.properties.version, v2);
      assert.equal(latest.properties.enabled, false);

      const reads = stack.keyVault.counters.certificateReads;
      stack.faults.arm('kv-503');
      const retried = await client.getCertificate('sdk-disabled');
      assert.equal(retried.properties.version, v2);
      assert.equal(stack.faults.injectedByName['kv-503'], 1);
      assert.equal(stack.keyVault.counters.certificateReads - reads, 1);
    });
  });
});
