import { randomUUID } from 'node:crypto';
import { startAzurite, type RunningAzurite } from './azurite';
import { EntraStandIn } from './stand-ins/entra';
import { GraphStandIn } from './stand-ins/graph';
import { KeyVaultStandIn, keyVaultResource } from './stand-ins/key-vault';
import { loadTls, tlsDirVariable, type TlsMaterial } from './tls';

/**
 * The whole offline stack: Entra ID (with the managed-identity endpoint), Graph and Key Vault
 * stand-ins over HTTPS on loopback, and the real Azurite. `settings` are the app settings that
 * point the unchanged production code at it.
 */

export interface LocalStackOptions {
  users?: number;
  /** Start Azurite's blob and table services too (func start needs them for the timer). */
  fullStorage?: boolean;
  /** Default: the directory named by LOCAL_STACK_TLS_DIR (set by with-trust). */
  tls?: TlsMaterial;
}

export interface LocalStack {
  readonly entra: EntraStandIn;
  readonly graph: GraphStandIn;
  readonly keyVault: KeyVaultStandIn;
  readonly azurite: RunningAzurite;
  /** App settings for the sync. */
  readonly settings: Record<string, string>;
  /** Process environment the managed identity needs (IDENTITY_ENDPOINT, IDENTITY_HEADER). */
  readonly identityEnvironment: Record<string, string>;
  readonly tenantId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly secretName: string;
  readonly identityClientId: string;
  readonly identityPrincipalId: string;
  readonly appPrincipalId: string;
  stop(): Promise<void>;
}

export const localTenantDomain = 'contoso.onmicrosoft.com';

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const tls = options.tls ?? (await tlsFromEnvironment());
  const tenantId = randomUUID();
  const clientId = randomUUID();
  const clientSecret = `local~${randomUUID()}`;
  const secretName = 'graph-client-secret';
  const identityClientId = randomUUID();
  const identityPrincipalId = randomUUID();
  const appPrincipalId = randomUUID();

  const started: { stop(): Promise<void> }[] = [];
  try {
    const entra = new EntraStandIn({ tenantId, tenantDomains: [localTenantDomain], tls, resources: [keyVaultResource] });
    await entra.start();
    started.push(entra);

    const graph = new GraphStandIn({ tls, signingKey: entra.signingKey, issuer: entra.issuer, tenantId });
    await graph.start();
    started.push(graph);
    graph.seed(options.users ?? 0);
    entra.addResource(graph.url);

    const keyVault = new KeyVaultStandIn({ tls, signingKey: entra.signingKey, authority: `${entra.url}/${tenantId}`, issuer: entra.issuer });
    await keyVault.start();
    started.push(keyVault);

    const azurite = await startAzurite({ blob: options.fullStorage === true });
    started.push(azurite);

    entra.registerApp({ clientId, servicePrincipalId: appPrincipalId, secrets: [clientSecret], appRoles: { [graph.url]: ['User.Read.All'] } });
    entra.registerIdentity({ clientId: identityClientId, principalId: identityPrincipalId });
    keyVault.setSecret(secretName, clientSecret);
    keyVault.secretsUsers.add(identityPrincipalId);

    const settings: Record<string, string> = {
      GRAPH_TENANT_ID: tenantId,
      GRAPH_CLIENT_ID: clientId,
      KEY_VAULT_URL: keyVault.url,
      GRAPH_CLIENT_SECRET_NAME: secretName,
      AUTHORITY_HOST: entra.url,
      GRAPH_BASE_URL: graph.url,
      USER_FIELDS: 'id,displayName,mail,userPrincipalName,accountEnabled',
      SYNC_SCHEDULE: '0 0 6 * * *',
      USERS_QUEUE_NAME: 'users',
      USERS_QUEUE_MESSAGE_ENCODING: 'base64',
      QUEUE_SEND_CONCURRENCY: '32',
      AZURE_CLIENT_ID: identityClientId,
      AzureWebJobsStorage: azurite.connectionString,
    };
    return {
      entra,
      graph,
      keyVault,
      azurite,
      settings,
      identityEnvironment: { IDENTITY_ENDPOINT: entra.identityEndpoint, IDENTITY_HEADER: entra.identityHeader },
      tenantId,
      clientId,
      clientSecret,
      secretName,
      identityClientId,
      identityPrincipalId,
      appPrincipalId,
      stop: async () => {
        await Promise.all(started.map((s) => s.stop()));
      },
    };
  } catch (error) {
    await Promise.all(started.map((s) => s.stop().catch(() => undefined)));
    throw error;
  }
}

async function tlsFromEnvironment(): Promise<TlsMaterial> {
  const dir = process.env[tlsDirVariable];
  if (dir === undefined || dir === '' || process.env['NODE_EXTRA_CA_CERTS'] === undefined) {
    throw new Error(
      `The local stack needs its certificate: run through "node dist/local/with-trust.js <command>" (the npm scripts do), which generates it and sets ${tlsDirVariable} and NODE_EXTRA_CA_CERTS.`,
    );
  }
  return loadTls(dir);
}
