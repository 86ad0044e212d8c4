// TLS configuration checks on the control thread, before any front opens a listener.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { ResolvedVhost, TlsConfig } from '../../shared/config/types.js';
import { HostdError } from '../../shared/errors.js';
import { afterDrop } from './privileges.js';

/**
 * Reads every vhost's certificate and key and checks they load and match (uWS itself would
 * silently serve without them). Rejects with every problem, naming the vhost file.
 */
export async function validateTls(vhosts: readonly ResolvedVhost[]): Promise<Map<string, string>> {
  const fingerprints = new Map<string, string>();
  const problems = await Promise.all(
    vhosts.map(async (v) => {
      if (!v.tls) return undefined;
      try {
        const [cert, key] = await Promise.all([readFile(v.tls.cert), readFile(v.tls.key)]);
        createSecureContext({ cert, key, passphrase: v.tls.passphrase });
        fingerprints.set(tlsKey(v.tls), createHash('sha256').update(cert).update(key).digest('hex'));
        return undefined;
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        const why =
          e.code === 'ENOENT' || e.code === 'EACCES' ? `${e.code}: ${e.path ?? ''}${e.code === 'EACCES' ? afterDrop() : ''}` : e.message;
        return `${v.file}: tls: certificate ${v.tls.cert} / key ${v.tls.key} do not load (${why})`;
      }
    }),
  );
  const found = problems.filter((p): p is string => p !== undefined);
  if (found.length) throw new HostdError('HOSTD_CONFIG', found.join('\n'));
  return fingerprints;
}

export function tlsKey(tls: TlsConfig): string {
  return `${tls.cert}|${tls.key}`;
}
