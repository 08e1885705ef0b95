import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultPlan } from '../faults';
import { bearerToken, listen, sendJson, type RunningServer } from '../net';
import type { TlsMaterial } from '../tls';
import type { SigningKey } from './signing';

/**
 * Key Vault's get-secret, with the real challenge flow: a request without a token gets 401 and
 * `WWW-Authenticate: Bearer authorization="<authority>/<tenant>", resource="https://vault.azure.net"`;
 * tokens are verified (signature, audience, issuer, expiry) and authorised by RBAC: only principals
 * holding "Key Vault Secrets User" may read. Faults (kv-429, kv-503) come from a shared FaultPlan
 * (`plan`), taken by requests that carry a valid token (never by the unauthenticated challenge).
 */

export const keyVaultResource = 'https://vault.azure.net';

interface SecretVersion {
  value: string;
  version: string;
  created: number;
}

export interface KeyVaultOptions {
  tls: TlsMaterial;
  signingKey: SigningKey;
  /** e.g. https://127.0.0.1:1234/<tenant-id> */
  authority: string;
  issuer: string;
  plan?: FaultPlan;
}

export class KeyVaultStandIn {
  readonly secrets = new Map<string, SecretVersion[]>();
  /** Object ids holding "Key Vault Secrets User" on this vault. */
  readonly secretsUsers = new Set<string>();
  readonly counters = { challenges: 0, secretReads: 0, denied: 0, faultsInjected: 0 };
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
    const version = randomBytes(16).toString('hex');
    const versions = this.secrets.get(name) ?? [];
    versions.push({ value, version, created: Math.floor(Date.now() / 1000) });
    this.secrets.set(name, versions);
    return version;
  }

  deleteSecret(name: string): void {
    this.secrets.delete(name);
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const apiVersion = url.searchParams.get('api-version');
    if (apiVersion === null) return this.#error(res, 400, 'BadParameter', 'The request URI must contain an api-version query parameter.');
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
        return this.#error(res, 429, 'Throttled', 'Request was not allowed because the vault request rate limit was exceeded. Please retry after the time in the Retry-After header.', { 'retry-after': '1' });
      }
      return this.#error(res, 503, 'ServiceUnavailable', 'The service is temporarily unavailable. Please retry later.');
    }
    const match = /^\/secrets\/([0-9a-zA-Z-]+)\/?([0-9a-f]{32})?\/?$/.exec(url.pathname);
    if (req.method !== 'GET' || match === null) return this.#error(res, 400, 'BadParameter', `Unsupported operation ${req.method ?? ''} ${url.pathname}`);
    const name = match[1] ?? '';
    if (!this.secretsUsers.has(verified.claims.oid)) {
      this.counters.denied++;
      return this.#error(
        res,
        403,
        'Forbidden',
        `Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\n` +
          `Caller: appid=${verified.claims.appid};oid=${verified.claims.oid};iss=${verified.claims.iss}\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\nResource: '${name}'`,
        {},
        { code: 'ForbiddenByRbac' },
      );
    }
    const versions = this.secrets.get(name);
    const wanted = match[2];
    const secret = wanted === undefined ? versions?.at(-1) : versions?.find((v) => v.version === wanted);
    if (secret === undefined) {
      return this.#error(
        res,
        404,
        'SecretNotFound',
        `A secret with (name/id) ${name}${wanted === undefined ? '' : `/${wanted}`} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
      );
    }
    this.counters.secretReads++;
    sendJson(res, 200, {
      value: secret.value,
      id: `${this.url}secrets/${name}/${secret.version}`,
      attributes: { enabled: true, created: secret.created, updated: secret.created, recoveryLevel: 'Recoverable', recoverableDays: 90 },
      tags: {},
    }, { 'x-ms-request-id': randomUUID(), 'x-ms-keyvault-service-version': '1.9.0.0' });
  }

  #error(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}, innererror?: object): void {
    sendJson(res, status, { error: { code, message, ...(innererror === undefined ? {} : { innererror }) } }, { 'x-ms-request-id': randomUUID(), ...headers });
  }
}
