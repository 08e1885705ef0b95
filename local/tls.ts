import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';

/**
 * The certificate the local stack serves HTTPS with, generated at start (selfsigned, RSA 2048,
 * valid one day, for 127.0.0.1, ::1 and localhost). Clients trust it through NODE_EXTRA_CA_CERTS,
 * which Node reads only at start: see with-trust.ts. TLS verification is never disabled.
 */

export interface TlsMaterial {
  readonly key: string;
  readonly cert: string;
  readonly certPath: string;
}

export const tlsDirVariable = 'LOCAL_STACK_TLS_DIR';

export async function generateTls(): Promise<{ dir: string; material: TlsMaterial; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'graph-user-sync-tls-'));
  const notAfter = new Date(Date.now() + 24 * 3600 * 1000);
  const pems = await generate([{ name: 'commonName', value: 'graph-user-sync local stack' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  const certPath = join(dir, 'cert.pem');
  await writeFile(certPath, pems.cert, { mode: 0o644 });
  await writeFile(join(dir, 'key.pem'), pems.private, { mode: 0o600 });
  return { dir, material: { key: pems.private, cert: pems.cert, certPath }, remove: () => rm(dir, { recursive: true, force: true }) };
}

export async function loadTls(dir: string): Promise<TlsMaterial> {
  const certPath = join(dir, 'cert.pem');
  return { key: await readFile(join(dir, 'key.pem'), 'utf8'), cert: await readFile(certPath, 'utf8'), certPath };
}
