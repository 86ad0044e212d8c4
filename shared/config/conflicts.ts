// Problems only visible across vhosts: who else answers the same name on the same address.
import { formatListen, sameProxyProtocol } from './listen.js';
import { lineOfVhostKey } from './resolve.js';
import type { ConfigProblem, ResolvedVhost } from './types.js';

function where(v: ResolvedVhost, key: 'name' | 'serverName' | 'default' | 'listen' | 'tls'): string {
  const line = lineOfVhostKey(v, key);
  return line > 0 ? `${v.file}:${line}` : v.file;
}

/**
 * Across vhosts sharing one listen address: the same server name twice (case-insensitive),
 * two catch-alls ("*" or default: true), TLS and plain vhosts mixed. Each problem is reported
 * on the later vhost and names the earlier one.
 */
export function checkConflicts(vhosts: ResolvedVhost[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  // Site names: metrics, logs and `POST /reload?site=` tell sites apart by them.
  const sites = new Map<string, ResolvedVhost>();
  for (const v of vhosts) {
    const other = sites.get(v.name);
    if (!other) sites.set(v.name, v);
    else
      problems.push({
        file: v.file,
        line: lineOfVhostKey(v, 'name'),
        message: `name: the site name "${v.name}" is already the name of ${where(other, 'name')} (site names must differ: set name: in one of them)`,
      });
  }
  const byAddress = new Map<string, ResolvedVhost[]>();
  for (const v of vhosts) {
    const key = formatListen(v.listen);
    const list = byAddress.get(key);
    if (list) list.push(v);
    else byAddress.set(key, [v]);
  }
  for (const [address, list] of byAddress) {
    const names = new Map<string, ResolvedVhost>();
    let catchAll: ResolvedVhost | undefined;
    const firstTls = list.find((v) => v.tls);
    const firstPlain = list.find((v) => !v.tls);
    for (const v of list) {
      const isCatchAll = v.isDefault || v.serverNames.includes('*');
      if (isCatchAll) {
        if (catchAll) {
          const key = v.serverNames.includes('*') && lineOfVhostKey(v, 'serverName') ? 'serverName' : 'default';
          problems.push({
            file: v.file,
            line: lineOfVhostKey(v, key),
            message: `a second catch-all ("*" or default: true) on ${address}; ${where(catchAll, 'serverName')} is already the catch-all there`,
          });
        } else {
          catchAll = v;
        }
      }
      for (const raw of v.serverNames) {
        const name = raw.toLowerCase();
        if (name === '*') continue;
        const other = names.get(name);
        if (other && other !== v) {
          problems.push({
            file: v.file,
            line: lineOfVhostKey(v, 'serverName'),
            message: `serverName: "${name}" on ${address} is already served by ${where(other, 'serverName')}`,
          });
        } else {
          names.set(name, v);
        }
      }
    }
    // proxyProtocol is a property of the socket: every vhost on the address must say the same
    // (and trust the same peers).
    const firstProxied = list.find((v) => v.listen.proxyProtocol);
    if (firstProxied) {
      for (const v of list) {
        if (sameProxyProtocol(v.listen, firstProxied.listen)) continue;
        problems.push({
          file: v.file,
          line: lineOfVhostKey(v, 'listen'),
          message: `listen: ${address} expects a PROXY protocol header for ${where(firstProxied, 'listen')}; every vhost on one address must set the same proxyProtocol (and trust list)`,
        });
      }
    }
    if (firstTls && firstPlain) {
      // Report every vhost of the kind that came second, naming the first of the other kind.
      const laterIsTls = list.indexOf(firstTls) > list.indexOf(firstPlain);
      for (const v of list) {
        if (!!v.tls !== laterIsTls) continue;
        problems.push(
          laterIsTls
            ? {
                file: v.file,
                line: lineOfVhostKey(v, 'tls'),
                message: `tls: ${address} is plain HTTP for ${where(firstPlain, 'listen')}; TLS and plain vhosts cannot share one address (use another port)`,
              }
            : {
                file: v.file,
                line: lineOfVhostKey(v, 'listen'),
                message: `listen: ${address} is TLS for ${where(firstTls, 'tls')}; this vhost has no tls, and TLS and plain vhosts cannot share one address (use another port)`,
              },
        );
      }
    }
  }
  return problems;
}
