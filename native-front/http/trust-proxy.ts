// --trust-proxy: whose X-Forwarded-For / X-Forwarded-Proto to believe. Only when the peer is a
// trusted proxy do we read them; then the client is the rightmost address that is not itself
// trusted (so a client cannot forge the chain by sending its own X-Forwarded-For).
import { BlockList, isIP } from 'node:net';
import { parseCidr } from '../../shared/config/cidr.js';
import { HostdError } from '../../shared/errors.js';
import { unmap } from '../proxy-protocol/address.js';

export class TrustProxy {
  private readonly list = new BlockList();

  /** `what` names the setting in the error a bad entry gives. */
  constructor(cidrs: readonly string[], what = '--trust-proxy') {
    for (const raw of cidrs) {
      if (!raw.trim()) continue;
      const c = parseCidr(raw);
      if (typeof c === 'string') throw new HostdError('HOSTD_USAGE', `${what}: ${c}`);
      if (c.bits === undefined) this.list.addAddress(c.address, c.type);
      else this.list.addSubnet(c.address, c.bits, c.type);
    }
  }

  trusts(address: string): boolean {
    const a = unmap(address);
    const family = isIP(a);
    return family !== 0 && this.list.check(a, family === 6 ? 'ipv6' : 'ipv4');
  }

  /** The client behind a trusted peer, from X-Forwarded-For (the list of every line, joined). */
  client(peer: string, forwardedFor: string): string {
    return this.hop(peer, forwardedFor).address;
  }

  /**
   * Where a request came from: its client address and whether the client used https, believing
   * X-Forwarded-For / X-Forwarded-Proto only from a trusted peer. The one reader of those headers
   * (context, router, WebSocket upgrade). `secure` is the connection's own scheme.
   *
   * Every line of each header counts: uWS's getHeader returns only the first, and HAProxy's
   * `option forwardfor` adds a line of its own after the client's, so the lines are read with
   * forEach and joined into one list, as RFC 9110 §5.3 reads repeated fields.
   * The scheme is the X-Forwarded-Proto value as far from the right as the client is in
   * X-Forwarded-For (each trusted proxy that appends to one appends to the other; a client's own
   * values are to the left and never reached), or its leftmost value when the list is shorter
   * (proxies that overwrite it: nginx's `proxy_set_header X-Forwarded-Proto $scheme`).
   */
  origin(peer: string, req: HeaderLines, secure: boolean): RequestOrigin {
    if (!this.trusts(peer)) return { address: peer, secure };
    let forwardedFor = '';
    let proto = '';
    req.forEach((name, value) => {
      if (name === 'x-forwarded-for') forwardedFor = forwardedFor === '' ? value : `${forwardedFor},${value}`;
      else if (name === 'x-forwarded-proto') proto = proto === '' ? value : `${proto},${value}`;
    });
    const { address, distance } = this.hop(peer, forwardedFor);
    if (proto !== '') {
      const values = proto.split(',');
      secure = values[Math.max(0, values.length - 1 - distance)].trim().toLowerCase() === 'https';
    }
    return { address, secure };
  }

  /** The client in `forwardedFor` behind `peer`, and how many hops from the right it stands. */
  private hop(peer: string, forwardedFor: string): { address: string; distance: number } {
    if (!forwardedFor || !this.trusts(peer)) return { address: peer, distance: 0 };
    const hops = forwardedFor.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i].trim();
      if (!isIP(unmap(hop))) return { address: peer, distance: 0 }; // garbage in the chain: believe only the peer
      if (!this.trusts(hop)) return { address: unmap(hop), distance: hops.length - 1 - i };
    }
    return { address: unmap(hops[0].trim()), distance: hops.length - 1 };
  }
}

/** The part of a uWS HttpRequest that origin() reads: every header line, repeated ones included. */
export interface HeaderLines {
  forEach(cb: (name: string, value: string) => void): void;
}

/** A request's client as hostd believes it (see TrustProxy.origin). */
export interface RequestOrigin {
  address: string;
  secure: boolean;
}
