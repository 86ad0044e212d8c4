// An IP address or CIDR range in text ("10.0.0.0/8", "::1"): what --trust-proxy and a listen
// entry's `proxyProtocol: { trust }` take. Parsed in one place for the command line, the config
// validation and native-front/http/trust-proxy.ts.
import { isIP } from 'node:net';

export interface Cidr {
  address: string;
  /** Prefix length; undefined for a single address. */
  bits: number | undefined;
  type: 'ipv4' | 'ipv6';
}

/** The range `text` names, or a sentence saying why it names none. */
export function parseCidr(text: string): Cidr | string {
  const c = text.trim();
  const parts = c.split('/');
  const [address, bits] = parts;
  const family = isIP(address);
  if (!family || parts.length > 2) return `"${c}" is not an IP address or CIDR`;
  const type = family === 6 ? 'ipv6' : 'ipv4';
  if (bits === undefined) return { address, bits: undefined, type };
  // "10.0.0.0/" must not read as /0 (every address): the prefix length is decimal digits.
  const n = /^\d{1,3}$/.test(bits) ? Number(bits) : Number.NaN;
  if (!Number.isInteger(n) || n < 0 || n > (family === 6 ? 128 : 32)) return `"${c}" has a bad prefix length`;
  return { address, bits: n, type };
}
