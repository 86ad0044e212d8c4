// The listen address: a port, "host:port" or "[v6]:port" (vhost files and --listen).
import { isIPv4, isIPv6 } from 'node:net';
import type { ListenAddress } from './types.js';

export const DEFAULT_LISTEN: Readonly<ListenAddress> = Object.freeze({ host: '0.0.0.0', port: 8080 });

const HOSTNAME_RE = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/**
 * 8080, "8080", "127.0.0.1:8080", "localhost:8080", "[::1]:8080", "*:8080" (= 0.0.0.0).
 * The host comes back without brackets, as uWS's listen(host, port) wants it.
 * Returns undefined when `v` is not a listen address.
 */
export function parseListen(v: unknown): ListenAddress | undefined {
  if (typeof v === 'number') return validPort(v) ? { host: DEFAULT_LISTEN.host, port: v } : undefined;
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (/^\d+$/.test(s)) {
    const port = Number(s);
    return validPort(port) ? { host: DEFAULT_LISTEN.host, port } : undefined;
  }
  let host: string;
  let portText: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(s);
  if (v6) {
    host = v6[1];
    portText = v6[2];
    if (!isIPv6(host)) return undefined;
  } else {
    const m = /^([^:[\]]+):(\d+)$/.exec(s);
    if (!m) return undefined;
    host = m[1] === '*' ? DEFAULT_LISTEN.host : m[1].toLowerCase();
    portText = m[2];
    if (!isIPv4(host) && !HOSTNAME_RE.test(host)) return undefined;
  }
  const port = Number(portText);
  return validPort(port) ? { host, port } : undefined;
}

/**
 * The mapping form, `{ port, host?, proxyProtocol? }`: the same address as "host:port" plus the
 * settings a string cannot carry. Undefined when host or port is not valid.
 */
export function parseListenMapping(m: {
  port: number;
  host?: string;
  proxyProtocol?: boolean;
  proxyTrust?: string[];
}): ListenAddress | undefined {
  const host = m.host?.trim();
  const address = host === undefined ? parseListen(m.port) : parseListen(host.includes(':') ? `[${host}]:${m.port}` : `${host}:${m.port}`);
  if (address && m.proxyProtocol) {
    address.proxyProtocol = true;
    if (m.proxyTrust !== undefined) address.proxyTrust = m.proxyTrust;
  }
  return address;
}

/** Do two addresses take PROXY headers alike (on or off, from the same peers)? */
export function sameProxyProtocol(a: ListenAddress, b: ListenAddress): boolean {
  return !!a.proxyProtocol === !!b.proxyProtocol && (a.proxyTrust ?? []).join(',') === (b.proxyTrust ?? []).join(',');
}

function validPort(p: number): boolean {
  return Number.isInteger(p) && p >= 0 && p <= 65535;
}

/** "0.0.0.0:8080", "[::1]:8443": the key vhosts sharing a listener have in common. */
export function formatListen(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Identifies a mount across configuration generations: its address, its vhost's names, its URL. */
export function mountKey(vhost: { listen: ListenAddress; serverNames: readonly string[] }, mountUrl: string): string {
  return `${formatListen(vhost.listen)}|${vhost.serverNames.join(',')}|${mountUrl}`;
}
