// Self-signed certificates for the TLS tests (openssl, installed by .ci/run).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A self-signed certificate for `name` (CN and SAN) in dir/<file>.pem and dir/<file>.key. */
export async function selfSigned(dir: string, name: string, file = name): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${file}.pem`);
  const key = join(dir, `${file}.key`);
  // biome-ignore format: openssl's arguments read best in pairs
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`,
  ]);
  return { cert, key };
}
