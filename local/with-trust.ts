import { spawnForwarding } from './child';
import { generateTls, tlsDirVariable } from './tls';

/**
 * Runs a command with the local stack's certificate generated and trusted:
 *   node dist/local/with-trust.js <command> [args...]
 * Node reads NODE_EXTRA_CA_CERTS only when a process starts, so the certificate is made here, in a
 * parent, and the command runs as a child with NODE_EXTRA_CA_CERTS (trust) and LOCAL_STACK_TLS_DIR
 * (the key, for the stand-ins) set. Signals are forwarded; the certificate is deleted at the end;
 * the exit status is the child's.
 */
async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  if (command === undefined) {
    process.stderr.write('usage: with-trust <command> [args...]\n');
    process.exit(2);
  }
  const tls = await generateTls();
  const { exited } = spawnForwarding(command, args, {
    stdio: 'inherit',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.material.certPath, [tlsDirVariable]: tls.dir },
  });
  const code = await exited;
  await tls.remove();
  process.exit(code);
}

void main();
