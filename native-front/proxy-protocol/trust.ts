// Whose PROXY headers a listener believes. nginx believes the address a PROXY header names only
// from `set_real_ip_from` peers; hostd goes further and closes a connection from any other peer
// at once (a listener with proxyProtocol expects nothing but its proxies). The list is the
// listen entry's `proxyProtocol: { trust: [...] }`; with `proxyProtocol: true` it is the
// --trust-proxy list, and without one, loopback only (the proxy on the same machine, as
// docs/deploy.md's recipe has it). Never "anyone": a client reaching the port directly could
// otherwise name a trusted proxy's address and have its X-Forwarded-For believed.
import type { ListenAddress } from '../../shared/config/types.js';

/** Loopback, IPv4 and IPv6. */
export const LOOPBACK: readonly string[] = ['127.0.0.0/8', '::1'];

/** The peers whose PROXY headers `address` believes, given --trust-proxy's list. */
export function proxyProtocolTrust(address: ListenAddress, trustProxy: readonly string[]): readonly string[] {
  if (address.proxyTrust !== undefined) return address.proxyTrust;
  return trustProxy.length > 0 ? trustProxy : LOOPBACK;
}
