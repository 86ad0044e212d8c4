// --trust-proxy: whose X-Forwarded-For / X-Forwarded-Proto to believe. Only when the peer is a
// trusted proxy do we read them; then the client is the rightmost address that is not itself
// trusted (so a client cannot forge the chain by sending its own X-Forwarded-For).
import { BlockList, isIP } from 'node:net';
import { HostdError } from '../shared/errors.js';
import { unmap } from './proxy-protocol/address.js';

export class TrustProxy {
  private readonly list = new BlockList();

  constructor(cidrs: readonly string[]) {
    for (const raw of cidrs) {
      const c = raw.trim();
      if (!c) continue;
      const parts = c.split('/');
      const [addr, bits] = parts;
      const family = isIP(addr);
      if (!family || parts.length > 2) throw new HostdError('HOSTD_USAGE', `--trust-proxy: "${c}" is not an IP address or CIDR`);
      const type = family === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.list.addAddress(addr, type);
      else {
        // "10.0.0.0/" must not read as /0 (every address): the prefix length is decimal digits.
        const n = /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
        if (!Number.isInteger(n) || n < 0 || n > (family === 6 ? 128 : 32))
          throw new HostdError('HOSTD_USAGE', `--trust-proxy: "${c}" has a bad prefix length`);
        this.list.addSubnet(addr, n, type);
      }
    }
  }

  trusts(address: string): boolean {
    const a = unmap(address);
    const family = isIP(a);
    return family !== 0 && this.list.check(a, family === 6 ? 'ipv6' : 'ipv4');
  }

  /** The client behind a trusted peer, from X-Forwarded-For. */
  client(peer: string, forwardedFor: string): string {
    if (!forwardedFor || !this.trusts(peer)) return peer;
    const hops = forwardedFor.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i].trim();
      if (!isIP(unmap(hop))) return peer; // garbage in the chain: believe only the peer
      if (!this.trusts(hop)) return unmap(hop);
    }
    return unmap(hops[0].trim());
  }
}
