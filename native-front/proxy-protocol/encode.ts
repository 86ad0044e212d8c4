// PROXY protocol headers out: v2 is what the gateway hands to uWS (v20.30 reads v2 itself, see
// gateway.ts); v1 is here for tests and for tools that speak to a proxyProtocol listener.
import { isIPv4 } from 'node:net';
import { ipBytes, unmap } from './address.js';
import { V2_SIGNATURE, type ProxyEndpoint } from './parse.js';

/**
 * A v2 PROXY (command 1) header over TCP for `source` → `destination`, with optional TLVs. Both
 * endpoints must be of one family; an IPv4-mapped IPv6 source is sent as IPv4.
 */
export function encodeV2(source: ProxyEndpoint, destination: ProxyEndpoint, tlvs: { type: number; value: Buffer }[] = []): Buffer {
  let src = ipBytes(unmap(source.address));
  let dst = ipBytes(unmap(destination.address));
  if (src.length !== dst.length) {
    // Mixed families (an IPv4 client on a dual-stack socket): widen IPv4 to mapped IPv6.
    if (src.length === 4) src = Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]), src]);
    if (dst.length === 4) dst = Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]), dst]);
  }
  const v6 = src.length === 16;
  const tlvBytes = Buffer.concat(
    tlvs.map((t) => Buffer.concat([Buffer.from([t.type, t.value.length >> 8, t.value.length & 0xff]), t.value])),
  );
  const body = Buffer.alloc(v6 ? 36 : 12);
  src.copy(body, 0);
  dst.copy(body, src.length);
  body.writeUInt16BE(source.port, 2 * src.length);
  body.writeUInt16BE(destination.port, 2 * src.length + 2);
  const head = Buffer.from([0x21, v6 ? 0x21 : 0x11, 0, 0]);
  head.writeUInt16BE(body.length + tlvBytes.length, 2);
  return Buffer.concat([V2_SIGNATURE, head, body, tlvBytes]);
}

/** A v2 LOCAL header (the proxy speaking for itself, e.g. a health check). */
export function encodeV2Local(): Buffer {
  return Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0, 0])]);
}

/** A v1 line: "PROXY TCP4 src dst sport dport\r\n" (or "PROXY UNKNOWN\r\n" without endpoints). */
export function encodeV1(source?: ProxyEndpoint, destination?: ProxyEndpoint): Buffer {
  if (!source || !destination) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  const proto = isIPv4(source.address) ? 'TCP4' : 'TCP6';
  return Buffer.from(`PROXY ${proto} ${source.address} ${destination.address} ${source.port} ${destination.port}\r\n`, 'latin1');
}
