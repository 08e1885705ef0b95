import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultPlan } from '../faults';
import { registerSecret } from '../leaks';
import { bearerToken, listen, sendJson, type RunningServer } from '../net';
import type { TlsMaterial } from '../tls';
import { certificateOnlyPfxBase64, type GeneratedCertificate } from './certificates';
import type { SigningKey } from './signing';

/**
 * Key Vault's get-secret and get-certificate, with the real challenge flow: a request without a
 * token gets 401 and `WWW-Authenticate: Bearer authorization="<authority>/<tenant>", resource="https://vault.azure.net"`;
 * tokens are verified (signature, audience, issuer, expiry) and authorised by RBAC with the
 * built-in roles' data actions:
 *   - "Key Vault Secrets User" (`secretsUsers`): secrets/getSecret/action, secrets/readMetadata/action;
 *   - "Key Vault Certificate User" (`certificateUsers`): certificates/read, keys/read,
 *     secrets/getSecret/action, secrets/readMetadata/action. So it reads a certificate's secret
 *     (its private key) as well, and a Secrets User can read that secret but not the certificate.
 * Faults (kv-429, kv-503) come from a shared FaultPlan (`plan`), taken by requests that carry a
 * valid token (never by the unauthenticated challenge), whatever they read.
 *
 * Certificates (setCertificate) are kept with their versions the way Key Vault keeps them: each
 * version has a managed secret and a key of the same name and version (`sid`, `kid`). Served:
 *   GET /certificates/{name}[/{version}]  CertificateBundle (the latest version, even disabled, with
 *                                         the policy; a given version without it)
 *   GET /certificates/{name}/versions     CertificateListResult, `maxresults` (1-25) and `nextLink`
 *   GET /certificates/{name}/policy       CertificatePolicy
 *   GET /secrets/{name}[/{version}]       for a certificate: its PFX or PEM, `managed: true`, `kid`;
 *                                         a non-exportable key's secret holds only the certificate;
 *                                         a disabled version's secret is 403 SecretDisabled
 * Shapes follow Key Vault's recorded answers (azure-sdk-for-js keyvault-certificates recordings).
 */

export const keyVaultResource = 'https://vault.azure.net';

/** api-versions Key Vault answers: 7.x (and 7.x-preview.n) and the dated ones the current SDKs send (2025-07-01, 2026-04-01). */
const supportedApiVersion = /^(7\.\d+|20\d\d-\d\d-\d\d)(-preview(\.\d+)?)?$/;
const latestApiVersion = '2026-04-01';
const serviceHeaders = (): Record<string, string> => ({ 'x-ms-request-id': randomUUID(), 'x-ms-keyvault-service-version': '1.9.0.0' });
/** Key Vault's page size for list operations, and the largest `maxresults` it takes. */
const maxPageSize = 25;
const objectName = /^[0-9a-zA-Z-]{1,127}$/;
/** The vault's recovery settings (soft delete, purge protection), as every object's attributes report them. */
const recovery = { recoveryLevel: 'Recoverable', recoverableDays: 90 } as const;

interface SecretVersion {
  value: string;
  version: string;
  created: number;
}

export type CertificateContentType = 'application/x-pkcs12' | 'application/x-pem-file';

export interface SetCertificateOptions {
  /** The secret's format. Default: application/x-pkcs12 (Key Vault's default). */
  contentType?: CertificateContentType;
  /** Whether the private key can be exported, i.e. is in the secret. Default: true. */
  exportable?: boolean;
  /** Default: true. */
  enabled?: boolean;
}

export interface StoredCertificateVersion {
  readonly version: string;
  readonly certificate: GeneratedCertificate;
  readonly contentType: CertificateContentType;
  readonly exportable: boolean;
  enabled: boolean;
  readonly created: number;
  updated: number;
}

interface StoredCertificate {
  /** In creation order: the last one is the latest. */
  versions: StoredCertificateVersion[];
  /** The policy, set by the latest setCertificate (as an import or a create replaces it). */
  policy: { contentType: CertificateContentType; exportable: boolean; subject: string; validityMonths: number; created: number; updated: number };
}

export interface KeyVaultOptions {
  tls: TlsMaterial;
  signingKey: SigningKey;
  /** e.g. https://127.0.0.1:1234/<tenant-id> */
  authority: string;
  issuer: string;
  plan?: FaultPlan;
}

type Route =
  | { kind: 'secret'; name: string; version?: string }
  | { kind: 'certificate'; name: string; version?: string }
  | { kind: 'certificate-versions'; name: string }
  | { kind: 'certificate-policy'; name: string };

export class KeyVaultStandIn {
  readonly secrets = new Map<string, SecretVersion[]>();
  readonly #certificates = new Map<string, StoredCertificate>();
  readonly #registered = new WeakSet<GeneratedCertificate>();
  /** Object ids holding "Key Vault Secrets User" on this vault. */
  readonly secretsUsers = new Set<string>();
  /** Object ids holding "Key Vault Certificate User" on this vault (certificates, and their secrets and keys). */
  readonly certificateUsers = new Set<string>();
  readonly counters = { challenges: 0, secretReads: 0, certificateReads: 0, denied: 0, faultsInjected: 0 };
  /** The shared fault plan (kv-429, kv-503). */
  plan: FaultPlan | undefined;
  #server: RunningServer | undefined;

  constructor(private readonly options: KeyVaultOptions) {
    this.plan = options.plan;
  }

  get url(): string {
    if (this.#server === undefined) throw new Error('Key Vault stand-in not started');
    return `${this.#server.url}/`;
  }

  async start(): Promise<void> {
    this.#server = await listen((req, res) => this.#handle(req, res), this.options.tls);
  }

  async stop(): Promise<void> {
    await this.#server?.close();
  }

  setSecret(name: string, value: string): string {
    if (this.#certificates.has(name)) throw new Error(`Key Vault stand-in: "${name}" is a certificate's managed secret; set the certificate instead`);
    const version = newVersion();
    const versions = this.secrets.get(name) ?? [];
    versions.push({ value, version, created: Math.floor(Date.now() / 1000) });
    this.secrets.set(name, versions);
    return version;
  }

  deleteSecret(name: string): void {
    this.secrets.delete(name);
  }

  /**
   * Adds a version of certificate `name` (as importing or renewing does in Key Vault), with its
   * managed secret and key of the same version. Returns the version id (32 hex characters).
   */
  setCertificate(name: string, certificate: GeneratedCertificate, options: SetCertificateOptions = {}): string {
    if (!objectName.test(name)) throw new Error(`Key Vault stand-in: "${name}" is not a valid object name (1-127 letters, digits and dashes)`);
    if (this.secrets.has(name)) throw new Error(`Key Vault stand-in: a secret named "${name}" exists; a certificate cannot share its name`);
    const now = Math.floor(Date.now() / 1000);
    const stored: StoredCertificate = this.#certificates.get(name) ?? {
      versions: [],
      policy: { contentType: 'application/x-pkcs12', exportable: true, subject: '', validityMonths: 12, created: now, updated: now },
    };
    const entry: StoredCertificateVersion = {
      version: newVersion(),
      certificate,
      contentType: options.contentType ?? 'application/x-pkcs12',
      exportable: options.exportable ?? true,
      enabled: options.enabled ?? true,
      created: now,
      updated: now,
    };
    stored.versions.push(entry);
    if (!this.#registered.has(certificate)) {
      // Private key material must never reach a log: the leak scan (local/leaks.ts) looks for it line by line.
      this.#registered.add(certificate);
      registerSecret(certificate.pfxBase64);
      for (const line of certificate.privateKeyPem.split('\n')) if (!line.startsWith('-----')) registerSecret(line);
    }
    const months = Math.max(1, Math.round((certificate.notAfter.getTime() - certificate.notBefore.getTime()) / (30.436875 * 24 * 3600 * 1000)));
    stored.policy = {
      ...stored.policy,
      contentType: entry.contentType,
      exportable: entry.exportable,
      subject: certificate.subject,
      validityMonths: months,
      updated: now,
    };
    this.#certificates.set(name, stored);
    return entry.version;
  }

  /** Enables or disables one version (Key Vault's update-certificate with `attributes.enabled`; its secret and key follow). */
  updateCertificateVersion(name: string, version: string, update: { enabled: boolean }): void {
    const entry = this.#certificates.get(name)?.versions.find((v) => v.version === version);
    if (entry === undefined) throw new Error(`Key Vault stand-in: no certificate version ${name}/${version}`);
    entry.enabled = update.enabled;
    entry.updated = Math.floor(Date.now() / 1000);
  }

  deleteCertificate(name: string): void {
    this.#certificates.delete(name);
  }

  /** The versions of certificate `name`, oldest first (empty if none). */
  certificateVersions(name: string): readonly StoredCertificateVersion[] {
    return this.#certificates.get(name)?.versions ?? [];
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const apiVersion = url.searchParams.get('api-version');
    if (apiVersion === null) return this.#error(res, 400, 'BadParameter', 'The request URI must contain an api-version query parameter.');
    if (!supportedApiVersion.test(apiVersion)) {
      return this.#error(
        res,
        400,
        'BadParameter',
        `The specified version (${apiVersion}) is not recognized. Consider using the latest supported version (${latestApiVersion}).`,
      );
    }
    const token = bearerToken(req);
    if (token === undefined) {
      this.counters.challenges++;
      return this.#error(res, 401, 'Unauthorized', 'AKV10000: Request is missing a Bearer or PoP token.', {
        'www-authenticate': `Bearer authorization="${this.options.authority}", resource="${keyVaultResource}"`,
      });
    }
    const verified = this.options.signingKey.verify(token, [keyVaultResource, `${keyVaultResource}/`], this.options.issuer);
    if (!verified.ok) {
      return this.#error(res, 401, 'Unauthorized', `AKV10022: ${verified.reason}`, {
        'www-authenticate': `Bearer authorization="${this.options.authority}", resource="${keyVaultResource}"`,
      });
    }
    const [fault] = this.plan?.take('kv') ?? [];
    if (fault !== undefined) {
      this.counters.faultsInjected++;
      if (fault.name === 'kv-429') {
        return this.#error(
          res,
          429,
          'Throttled',
          'Request was not allowed because the vault request rate limit was exceeded. Please retry after the time in the Retry-After header.',
          { 'retry-after': '1' },
        );
      }
      return this.#error(res, 503, 'ServiceUnavailable', 'The service is temporarily unavailable. Please retry later.');
    }
    const route = req.method === 'GET' ? parseRoute(url.pathname) : undefined;
    if (route === undefined) return this.#error(res, 400, 'BadParameter', `Unsupported operation ${req.method ?? ''} ${url.pathname}`);
    const oid = verified.claims.oid;
    const canRead = route.kind === 'secret' ? this.secretsUsers.has(oid) || this.certificateUsers.has(oid) : this.certificateUsers.has(oid);
    if (!canRead) {
      this.counters.denied++;
      const action = route.kind === 'secret' ? 'Microsoft.KeyVault/vaults/secrets/getSecret/action' : 'Microsoft.KeyVault/vaults/certificates/read';
      return this.#error(
        res,
        403,
        'Forbidden',
        `Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\n` +
          `Caller: appid=${verified.claims.appid};oid=${oid};iss=${verified.claims.iss}\r\nAction: '${action}'\r\nResource: '${route.name}'`,
        {},
        { code: 'ForbiddenByRbac' },
      );
    }
    switch (route.kind) {
      case 'secret':
        return this.#getSecret(res, route.name, route.version);
      case 'certificate':
        return this.#getCertificate(res, route.name, route.version);
      case 'certificate-versions':
        return this.#listCertificateVersions(res, url, route.name, apiVersion);
      case 'certificate-policy':
        return this.#getCertificatePolicy(res, route.name);
    }
  }

  #getSecret(res: ServerResponse, name: string, wanted: string | undefined): void {
    const certificate = this.#certificates.get(name);
    if (certificate !== undefined) return this.#getCertificateSecret(res, name, certificate, wanted);
    const versions = this.secrets.get(name);
    const secret = wanted === undefined ? versions?.at(-1) : versions?.find((v) => v.version === wanted);
    if (secret === undefined) return this.#secretNotFound(res, name, wanted);
    this.counters.secretReads++;
    sendJson(
      res,
      200,
      {
        value: secret.value,
        id: `${this.url}secrets/${name}/${secret.version}`,
        attributes: { enabled: true, created: secret.created, updated: secret.created, ...recovery },
        tags: {},
      },
      serviceHeaders(),
    );
  }

  /** A certificate's managed secret: the PFX or the PEM (key and certificate, or only the certificate when the key is not exportable). */
  #getCertificateSecret(res: ServerResponse, name: string, certificate: StoredCertificate, wanted: string | undefined): void {
    const entry = versionOf(certificate, wanted);
    if (entry === undefined) return this.#secretNotFound(res, name, wanted);
    if (!entry.enabled) return this.#error(res, 403, 'Forbidden', 'Operation get is not allowed on a disabled secret.', {}, { code: 'SecretDisabled' });
    const c = entry.certificate;
    const value =
      entry.contentType === 'application/x-pem-file'
        ? entry.exportable
          ? c.pemBundle
          : c.certificatePem
        : entry.exportable
          ? c.pfxBase64
          : certificateOnlyPfxBase64(c.certificatePem);
    this.counters.secretReads++;
    sendJson(
      res,
      200,
      {
        value,
        contentType: entry.contentType,
        id: `${this.url}secrets/${name}/${entry.version}`,
        managed: true,
        attributes: this.#attributes(entry),
        kid: `${this.url}keys/${name}/${entry.version}`,
      },
      serviceHeaders(),
    );
  }

  #getCertificate(res: ServerResponse, name: string, wanted: string | undefined): void {
    const certificate = this.#certificates.get(name);
    const entry = certificate === undefined ? undefined : versionOf(certificate, wanted);
    if (certificate === undefined || entry === undefined) return this.#certificateNotFound(res, name, wanted);
    this.counters.certificateReads++;
    sendJson(
      res,
      200,
      {
        id: `${this.url}certificates/${name}/${entry.version}`,
        kid: `${this.url}keys/${name}/${entry.version}`,
        sid: `${this.url}secrets/${name}/${entry.version}`,
        x5t: entry.certificate.x5tBase64Url,
        cer: entry.certificate.der.toString('base64'),
        attributes: this.#attributes(entry),
        // Key Vault returns the policy with the latest version only (get-certificate without a version).
        ...(wanted === undefined ? { policy: this.#policy(name, certificate) } : {}),
      },
      serviceHeaders(),
    );
  }

  #getCertificatePolicy(res: ServerResponse, name: string): void {
    const certificate = this.#certificates.get(name);
    if (certificate === undefined) return this.#certificateNotFound(res, name, undefined);
    this.counters.certificateReads++;
    sendJson(res, 200, this.#policy(name, certificate), serviceHeaders());
  }

  /** Key Vault lists a certificate's versions (enabled and disabled) by version id; an unknown name is an empty list, not a 404. */
  #listCertificateVersions(res: ServerResponse, url: URL, name: string, apiVersion: string): void {
    const maxText = url.searchParams.get('maxresults');
    const pageSize = maxText === null ? maxPageSize : Number(maxText);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > maxPageSize) {
      return this.#error(res, 400, 'BadParameter', `Invalid maxresults value '${maxText ?? ''}': it must be an integer from 1 to ${maxPageSize}.`);
    }
    const skipToken = url.searchParams.get('$skiptoken');
    const start = skipToken === null ? 0 : offsetOf(skipToken);
    if (start === undefined) return this.#error(res, 400, 'BadParameter', 'The $skiptoken is not valid.');
    const versions = [...(this.#certificates.get(name)?.versions ?? [])].sort((a, b) => (a.version < b.version ? -1 : 1));
    const page = versions.slice(start, start + pageSize);
    const next = start + pageSize < versions.length ? start + pageSize : undefined;
    this.counters.certificateReads++;
    sendJson(
      res,
      200,
      {
        value: page.map((v) => ({
          id: `${this.url}certificates/${name}/${v.version}`,
          x5t: v.certificate.x5tBase64Url,
          attributes: {
            enabled: v.enabled,
            nbf: seconds(v.certificate.notBefore),
            exp: seconds(v.certificate.notAfter),
            created: v.created,
            updated: v.updated,
          },
          subject: '',
        })),
        nextLink:
          next === undefined
            ? null
            : `${this.url}certificates/${name}/versions?api-version=${encodeURIComponent(apiVersion)}&$skiptoken=${skipTokenOf(next)}${maxText === null ? '' : `&maxresults=${pageSize}`}`,
      },
      serviceHeaders(),
    );
  }

  #attributes(entry: StoredCertificateVersion): object {
    return {
      enabled: entry.enabled,
      nbf: seconds(entry.certificate.notBefore),
      exp: seconds(entry.certificate.notAfter),
      created: entry.created,
      updated: entry.updated,
      ...recovery,
    };
  }

  /** The policy of a certificate Key Vault made with issuer Self (the shape of its recorded answers). */
  #policy(name: string, certificate: StoredCertificate): object {
    const p = certificate.policy;
    return {
      id: `${this.url}certificates/${name}/policy`,
      key_props: { exportable: p.exportable, kty: 'RSA', key_size: 2048, reuse_key: false },
      secret_props: { contentType: p.contentType },
      x509_props: {
        subject: p.subject,
        sans: {},
        ekus: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'],
        key_usage: ['digitalSignature', 'keyEncipherment'],
        validity_months: p.validityMonths,
        basic_constraints: { ca: false },
      },
      lifetime_actions: [{ trigger: { lifetime_percentage: 80 }, action: { action_type: 'AutoRenew' } }],
      issuer: { name: 'Self' },
      attributes: { enabled: true, created: p.created, updated: p.updated },
    };
  }

  #secretNotFound(res: ServerResponse, name: string, wanted: string | undefined): void {
    this.#error(
      res,
      404,
      'SecretNotFound',
      `A secret with (name/id) ${name}${wanted === undefined ? '' : `/${wanted}`} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
    );
  }

  #certificateNotFound(res: ServerResponse, name: string, wanted: string | undefined): void {
    this.#error(
      res,
      404,
      'CertificateNotFound',
      `A certificate with (name/id) ${name}${wanted === undefined ? '' : `/${wanted}`} was not found in this key vault. If you recently deleted this certificate you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
    );
  }

  #error(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}, innererror?: object): void {
    sendJson(res, status, { error: { code, message, ...(innererror === undefined ? {} : { innererror }) } }, { 'x-ms-request-id': randomUUID(), ...headers });
  }
}

/** Key Vault's object versions: 32 lower-case hex characters. */
function newVersion(): string {
  return randomBytes(16).toString('hex');
}

function seconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/** The latest version (the last created, enabled or not: Key Vault does not skip disabled ones) or the one asked for. */
function versionOf(certificate: StoredCertificate, wanted: string | undefined): StoredCertificateVersion | undefined {
  return wanted === undefined ? certificate.versions.at(-1) : certificate.versions.find((v) => v.version === wanted);
}

function parseRoute(pathname: string): Route | undefined {
  const secret = /^\/secrets\/([0-9a-zA-Z-]+)\/?([0-9a-f]{32})?\/?$/.exec(pathname);
  if (secret !== null) return { kind: 'secret', name: secret[1] ?? '', version: secret[2] };
  const listed = /^\/certificates\/([0-9a-zA-Z-]+)\/(versions|policy)\/?$/.exec(pathname);
  if (listed !== null) return { kind: listed[2] === 'versions' ? 'certificate-versions' : 'certificate-policy', name: listed[1] ?? '' };
  const certificate = /^\/certificates\/([0-9a-zA-Z-]+)\/?([0-9a-f]{32})?\/?$/.exec(pathname);
  if (certificate !== null) return { kind: 'certificate', name: certificate[1] ?? '', version: certificate[2] };
  return undefined;
}

/** Opaque continuation tokens, shaped like Key Vault's (base64 JSON with a NextMarker). */
function skipTokenOf(offset: number): string {
  return Buffer.from(JSON.stringify({ NextMarker: offset, TargetLocation: 0 })).toString('base64url');
}

function offsetOf(token: string): number | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { NextMarker?: unknown };
    return typeof parsed.NextMarker === 'number' && Number.isInteger(parsed.NextMarker) && parsed.NextMarker >= 0 ? parsed.NextMarker : undefined;
  } catch {
    return undefined;
  }
}
