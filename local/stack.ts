import { randomUUID } from 'node:crypto';
import { registerSecret } from './leaks';
import { startAzurite, type RunningAzurite } from './azurite';
import { FaultPlan, parseFaults, type Fault } from './faults';
import { EntraStandIn } from './stand-ins/entra';
import { GraphStandIn } from './stand-ins/graph';
import { generateCertificate, type GeneratedCertificate } from './stand-ins/certificates';
import { KeyVaultStandIn, keyVaultResource } from './stand-ins/key-vault';
import { loadTls, tlsDirVariable, type TlsMaterial } from './tls';

/**
 * The whole offline stack: Entra ID (with the managed-identity endpoint), Graph and Key Vault
 * stand-ins over HTTPS on loopback, and the real Azurite. `settings` are the app settings that
 * point the unchanged production code at it. `faults` is the fault plan the three stand-ins share
 * (see faults.ts); queue-down restarts Azurite, so it needs `persistent: true`.
 */

export interface LocalStackOptions {
  users?: number;
  /** Start Azurite's table service too (func start needs it, with blob, for the timer). Blob and queue always run. */
  fullStorage?: boolean;
  /** Azurite on disk (a temporary directory, removed on stop) instead of in memory: needed by queue-down. */
  persistent?: boolean;
  /** Faults to arm at start: a list in the grammar of faults.ts, parsed faults, or a plan of your own (the stack sets its hooks). */
  faults?: string | readonly Fault[] | FaultPlan;
  /** What the sigterm fault does. Default: process.kill(process.pid, 'SIGTERM'). */
  onSigterm?: () => void;
  /** Default: the directory named by LOCAL_STACK_TLS_DIR (set by with-trust). */
  tls?: TlsMaterial;
  /**
   * GRAPH_CREDENTIAL of `settings` (default secret). With secret, every mode is provisioned (the
   * secret and the certificate in the vault, the certificate and the federated credential on the
   * app), so a test can switch with settingsFor(mode); with certificate, the vault holds no plain
   * secret; with managed-identity, the vault holds nothing at all.
   */
  credential?: StackCredential;
  /**
   * The Graph application permissions granted to the app registration (admin-consented), in its
   * tokens' roles. Default: User.Read.All and GroupMember.Read.All (the group scope reads members);
   * leave GroupMember.Read.All out to see Graph's 403 on a group's members.
   */
  graphAppRoles?: readonly string[];
}

export const defaultGraphAppRoles: readonly string[] = ['User.Read.All', 'GroupMember.Read.All'];

export const stackCredentials = ['secret', 'certificate', 'managed-identity'] as const;
export type StackCredential = (typeof stackCredentials)[number];

export interface LocalStack {
  readonly entra: EntraStandIn;
  readonly graph: GraphStandIn;
  readonly keyVault: KeyVaultStandIn;
  readonly azurite: RunningAzurite;
  /** The fault plan the stand-ins consult: faults.arm('graph-429@2,…'), faults.clear(), faults.injected. */
  readonly faults: FaultPlan;
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
  /** The Key Vault certificate of GRAPH_CREDENTIAL=certificate (undefined with managed-identity). */
  readonly certificateName: string;
  readonly certificate: GeneratedCertificate | undefined;
  /** The settings that switch the sync to `mode` (undefined: remove the setting); apply over `settings`. */
  settingsFor(mode: StackCredential): Record<string, string | undefined>;
  /**
   * A new version of the certificate in the vault, registered on the app in place of the old one
   * (as an operator rotates it); returns it.
   */
  rotateCertificate(options?: { expired?: boolean }): GeneratedCertificate;
  stop(): Promise<void>;
}

export const localTenantDomain = 'contoso.onmicrosoft.com';

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const persistent = options.persistent === true;
  const plan = options.faults instanceof FaultPlan ? options.faults : new FaultPlan();
  const armAtStart =
    options.faults === undefined || options.faults instanceof FaultPlan
      ? undefined
      : typeof options.faults === 'string'
        ? parseFaults(options.faults)
        : options.faults;
  // Checked before anything starts: a bad list, or queue-down without Azurite on disk, throws here.
  if (!persistent) {
    plan.setHooks({ sigterm: options.onSigterm });
    if (armAtStart !== undefined) plan.arm(armAtStart);
  } else if (armAtStart !== undefined) {
    new FaultPlan({ queueDown: () => undefined }).arm(armAtStart);
  }
  const tls = options.tls ?? (await tlsFromEnvironment());
  const tenantId = randomUUID();
  const clientId = randomUUID();
  const clientSecret = `local~${randomUUID()}`;
  const secretName = 'graph-client-secret';
  const certificateName = 'graph-sync-cert';
  const identityClientId = randomUUID();
  const identityPrincipalId = randomUUID();
  const appPrincipalId = randomUUID();

  const started: { stop(): Promise<void> }[] = [];
  try {
    registerSecret(clientSecret);
    const entra = new EntraStandIn({ tenantId, tenantDomains: [localTenantDomain], tls, resources: [keyVaultResource], plan, onTokenIssued: registerSecret });
    registerSecret(entra.identityHeader);
    await entra.start();
    started.push(entra);

    const graph = new GraphStandIn({ tls, signingKey: entra.signingKey, issuer: entra.issuer, tenantId, plan });
    await graph.start();
    started.push(graph);
    graph.seed(options.users ?? 0);
    entra.addResource(graph.url);

    const keyVault = new KeyVaultStandIn({ tls, signingKey: entra.signingKey, authority: `${entra.url}/${tenantId}`, issuer: entra.issuer, plan });
    await keyVault.start();
    started.push(keyVault);

    const azurite = await startAzurite({ table: options.fullStorage === true, persistent });
    started.push(azurite);
    if (persistent) {
      plan.setHooks({
        sigterm: options.onSigterm,
        // Fire and forget: the Graph page is answered meanwhile; stop() cancels the restart.
        queueDown: (seconds) => {
          azurite.stopFor(seconds * 1000).catch((error: unknown) => {
            if (azurite.state !== 'stopped')
              process.stderr.write(`queue-down: Azurite did not come back: ${error instanceof Error ? error.message : String(error)}\n`);
          });
        },
      });
      if (armAtStart !== undefined) plan.arm(armAtStart);
    }

    const mode = options.credential ?? 'secret';
    entra.registerApp({
      clientId,
      servicePrincipalId: appPrincipalId,
      secrets: [clientSecret],
      appRoles: { [graph.url]: [...(options.graphAppRoles ?? defaultGraphAppRoles)] },
    });
    entra.registerIdentity({ clientId: identityClientId, principalId: identityPrincipalId });
    // managed-identity: the identity's token for the exchange audience is the app's credential (issuer, subject, audience as Azure's).
    entra.registerFederatedCredential(clientId, {
      name: 'graph-user-sync',
      issuer: `${entra.url}/${tenantId}/v2.0`,
      subject: identityPrincipalId,
      audiences: ['api://AzureADTokenExchange'],
    });
    if (mode === 'secret') {
      keyVault.setSecret(secretName, clientSecret);
      keyVault.secretsUsers.add(identityPrincipalId);
    }
    let certificate: GeneratedCertificate | undefined;
    const installCertificate = (generated: GeneratedCertificate): GeneratedCertificate => {
      keyVault.setCertificate(certificateName, generated, { contentType: 'application/x-pkcs12' });
      const app = entra.apps.get(clientId);
      if (app !== undefined) app.certificates = [];
      entra.registerCertificate(clientId, generated.certificatePem);
      certificate = generated;
      return generated;
    };
    if (mode !== 'managed-identity') {
      installCertificate(generateCertificate({ commonName: 'graph-user-sync-local' }));
      keyVault.certificateUsers.add(identityPrincipalId);
    }

    const credentialSettings = (chosen: StackCredential): Record<string, string | undefined> => ({
      GRAPH_CREDENTIAL: chosen,
      KEY_VAULT_URL: chosen === 'managed-identity' ? undefined : keyVault.url,
      GRAPH_CLIENT_SECRET_NAME: chosen === 'secret' ? secretName : undefined,
      GRAPH_CERTIFICATE_NAME: chosen === 'certificate' ? certificateName : undefined,
    });
    const settings: Record<string, string> = {
      GRAPH_TENANT_ID: tenantId,
      GRAPH_CLIENT_ID: clientId,
      ...(Object.fromEntries(Object.entries(credentialSettings(mode)).filter(([, v]) => v !== undefined)) as Record<string, string>),
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
      faults: plan,
      settings,
      identityEnvironment: { IDENTITY_ENDPOINT: entra.identityEndpoint, IDENTITY_HEADER: entra.identityHeader },
      tenantId,
      clientId,
      clientSecret,
      secretName,
      identityClientId,
      identityPrincipalId,
      appPrincipalId,
      certificateName,
      get certificate() {
        return certificate;
      },
      settingsFor: credentialSettings,
      rotateCertificate: (rotation = {}) => installCertificate(generateCertificate({ commonName: 'graph-user-sync-local', ...rotation })),
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
