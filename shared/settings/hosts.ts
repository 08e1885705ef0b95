import { SettingDefaults, SettingNames } from './names';
import { show, type SettingsReader } from './values';

/**
 * URLs of the services the sync talks to, and which hosts they may be on. The client secret is
 * posted to AUTHORITY_HOST, the Graph token sent to GRAPH_BASE_URL and a Key Vault token to
 * KEY_VAULT_URL: each must be on one of Microsoft's clouds or loopback (the local stand-ins),
 * unless its host is listed in SYNC_ALLOWED_HOSTS (a deliberate proxy or test endpoint).
 *
 * Sources of the lists below:
 * - Entra ID sign-in hosts: "Microsoft Graph national cloud deployments"
 *   (learn.microsoft.com/graph/deployments: login.microsoftonline.com, login.microsoftonline.us,
 *   login.chinacloudapi.cn) plus the aliases msal-node itself treats as the same clouds
 *   (@azure/msal-common authority/AuthorityMetadata: login.microsoft.com, login.windows.net;
 *   login.partner.microsoftonline.cn for 21Vianet).
 * - Graph hosts: the same page, "Microsoft Graph and Graph Explorer service root endpoints".
 * - Key Vault: "Azure Key Vault keys, secrets, and certificates overview" (learn.microsoft.com/
 *   azure/key-vault/general/about-keys-secrets-certificates), DNS suffixes for vaults per cloud:
 *   vault.azure.net, vault.usgovcloudapi.net, vault.azure.cn. Left out on purpose:
 *   managedhsm.azure.net (a Managed HSM holds keys, not the secret this app reads) and
 *   vault.microsoftazure.de (Azure Germany, closed).
 * Other hosts msal knows (login.usgovcloudapi.net, login-us.microsoftonline.com, sovereign
 * partner clouds) can be enabled with SYNC_ALLOWED_HOSTS.
 */
export const MicrosoftHosts = {
  authority: [
    'login.microsoftonline.com',
    'login.microsoft.com',
    'login.windows.net',
    'login.microsoftonline.us',
    'login.chinacloudapi.cn',
    'login.partner.microsoftonline.cn',
  ],
  graph: ['graph.microsoft.com', 'graph.microsoft.us', 'dod-graph.microsoft.us', 'microsoftgraph.chinacloudapi.cn'],
  /** `<vault-name>.<suffix>` */
  keyVaultSuffixes: ['vault.azure.net', 'vault.usgovcloudapi.net', 'vault.azure.cn'],
} as const;

/** Which service a URL belongs to, for the host check. */
export type ServiceKind = 'authority' | 'graph' | 'keyVault';

/** localhost, 127.0.0.0/8 and ::1 (hostnames as WHATWG URL normalises them). */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** Whether `hostname` (lowercase, as URL gives it) is one of Microsoft's hosts for that service. */
export function isMicrosoftHost(kind: ServiceKind, hostname: string): boolean {
  switch (kind) {
    case 'authority':
      return (MicrosoftHosts.authority as readonly string[]).includes(hostname);
    case 'graph':
      return (MicrosoftHosts.graph as readonly string[]).includes(hostname);
    case 'keyVault':
      return MicrosoftHosts.keyVaultSuffixes.some((suffix) =>
        new RegExp(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.${suffix.replaceAll('.', '\\.')}$`).test(hostname),
      );
  }
}

const labelPattern = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const hostnamePattern = new RegExp(`^(?=.{1,253}$)${labelPattern}(?:\\.${labelPattern})*$`);

/**
 * SYNC_ALLOWED_HOSTS: comma-separated hostnames (no scheme, port, path or wildcard), matched
 * exactly against the hostname of AUTHORITY_HOST, GRAPH_BASE_URL and KEY_VAULT_URL. Entries are
 * lowercased (DNS names are case-insensitive); IPv6 literals are written in brackets. Invalid
 * entries give one problem and are left out; the valid ones still apply.
 */
export function readAllowedHosts(reader: SettingsReader): readonly string[] {
  const name = SettingNames.allowedHosts;
  const text = reader.get(name) ?? SettingDefaults.allowedHosts;
  const entries = text
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== '');
  const good: string[] = [];
  const bad: string[] = [];
  for (const entry of entries) (isHostname(entry) ? good : bad).push(entry);
  if (bad.length > 0) {
    const wildcard = bad.some((b) => b.includes('*')) ? '; wildcards are not supported, list each host' : '';
    const withScheme = bad.some((b) => /[:/@]/.test(b) && !b.startsWith('[')) ? '; give the hostname only, without https://, port or path' : '';
    reader.problems.push(
      `${name} ${show(text)} has entries that are not hostnames (${bad.map(show).join(', ')})${wildcard}${withScheme}, e.g. ${name}=login.contoso-proxy.example,graph.contoso-proxy.example`,
    );
  }
  return [...new Set(good)];
}

function isHostname(entry: string): boolean {
  if (entry.startsWith('[')) {
    try {
      return new URL(`https://${entry}/`).hostname === entry;
    } catch {
      return false;
    }
  }
  if (!hostnamePattern.test(entry)) return false;
  // What URL would make of it must be the entry itself (e.g. "127.1" becomes 127.0.0.1, "1.2.3.999" is refused).
  try {
    return new URL(`https://${entry}/`).hostname === entry;
  } catch {
    return false;
  }
}

/** A URL as shown in a problem: any user name and password replaced, so they are never echoed. */
function showUrl(value: string): string {
  return show(value.replace(/^([a-z][a-z0-9+.-]*:\/*)[^/?#]*@/i, '$1***@'));
}

export interface OriginCheck {
  /** The service, for the Microsoft host check; omitted for URLs that carry no secret (storage endpoints). */
  readonly kind?: ServiceKind;
  readonly allowedHosts?: readonly string[];
}

const serviceWords: Record<ServiceKind, { what: string; risk: string }> = {
  authority: { what: 'a Microsoft Entra ID sign-in host', risk: 'the client secret would be posted to it' },
  graph: { what: 'a Microsoft Graph host', risk: "the app's Graph token would be sent to it" },
  keyVault: { what: "a Key Vault host of Microsoft's clouds", risk: 'a Key Vault token would be sent to it and the client secret read from it' },
};

function microsoftList(kind: ServiceKind): string {
  return kind === 'keyVault'
    ? MicrosoftHosts.keyVaultSuffixes.map((s) => `*.${s}`).join(', ')
    : (kind === 'authority' ? MicrosoftHosts.authority : MicrosoftHosts.graph).join(', ');
}

/**
 * An https origin without user info, path, query or fragment, returned without trailing slash;
 * with `check.kind`, also on a Microsoft cloud, loopback, or listed in SYNC_ALLOWED_HOSTS.
 * At most one problem per call.
 */
export function parseOrigin(value: string, name: string, example: string, problems: string[], check: OriginCheck = {}): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    const scheme = /^[a-z][a-z0-9+.-]*:/i.test(value) ? '' : ' (it needs https:// in front)';
    problems.push(`${name} ${showUrl(value)} is not a URL${scheme}, e.g. ${name}=${example}`);
    return undefined;
  }
  if (url.username !== '' || url.password !== '') {
    url.username = '';
    url.password = '';
    problems.push(
      `${name} ${show(url.toString())} carries a user name or password (left out here), which must not be there: remove the "user:password@" part, e.g. ${name}=${example}`,
    );
    return undefined;
  }
  if (url.protocol !== 'https:') {
    problems.push(`${name} ${show(value)} must use https, e.g. ${name}=${example}`);
    return undefined;
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    problems.push(`${name} ${show(value)} must be just scheme and host, without a path, e.g. ${name}=${example}`);
    return undefined;
  }
  const kind = check.kind;
  const host = url.hostname;
  if (kind !== undefined && !isMicrosoftHost(kind, host) && !isLoopbackHost(host) && !(check.allowedHosts ?? []).includes(host)) {
    const { what, risk } = serviceWords[kind];
    const hsm = kind === 'keyVault' && host.endsWith('.managedhsm.azure.net') ? ' (a Managed HSM holds keys, not secrets)' : '';
    problems.push(
      `${name} ${show(value)}: ${host} is not ${what} (${microsoftList(kind)}) nor loopback${hsm}, and ${risk}. ` +
        `Use your cloud's host, e.g. ${name}=${example}, or, if ${host} is deliberate (a proxy or test endpoint), allow it: ${SettingNames.allowedHosts}=${host}`,
    );
    return undefined;
  }
  return `${url.protocol}//${url.host}`;
}
