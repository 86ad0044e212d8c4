// The PROXY protocol header (HAProxy's spec, versions 1 and 2) at the start of a connection:
// a proxy in front (HAProxy, AWS NLB, ...) tells who its client was. This parser is incremental:
// call it with everything received so far; it says whether the bytes are a complete header (and
// how long), could still become one (wait for more), or can never be one (refuse the connection).
// It allocates nothing for incomplete input and never reads past the header it reports.
import { isIPv4, isIPv6 } from 'node:net';
import { formatIp, ipBytes } from './address.js';

export interface ProxyEndpoint {
  address: string; // "203.0.113.7", "2001:db8::1" (canonical text)
  port: number;
}

export interface ProxyTlv {
  type: number;
  value: Buffer; // a copy: safe to keep after the input buffer is reused
}

export interface ProxyHeader {
  version: 1 | 2;
  /**
   * "proxy": the header relays a client connection. "local": the proxy speaks for itself (v2
   * LOCAL, e.g. its health checks): the receiver must use the real peer address, per the spec.
   */
  command: 'proxy' | 'local';
  /** "unknown" is v1's UNKNOWN and v2's AF_UNSPEC; for "unix" and "unknown" there is no IP source. */
  family: 'ipv4' | 'ipv6' | 'unix' | 'unknown';
  transport: 'stream' | 'dgram' | 'unspec';
  /** The client (only for family ipv4/ipv6 with command "proxy"). */
  source?: ProxyEndpoint;
  destination?: ProxyEndpoint;
  /** v2 type-length-value extensions (ALPN, authority, SSL, ...), in order. */
  tlvs: ProxyTlv[];
}

export type ParseResult =
  | { kind: 'incomplete' }
  | { kind: 'header'; header: ProxyHeader; length: number }
  | { kind: 'invalid'; reason: string };

/** v1 lines are at most 107 bytes with the CRLF (spec §2.1). */
export const V1_MAX_LENGTH = 107;
/** The 12-byte v2 signature: it cannot occur at the start of an HTTP, TLS or SSH stream. */
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** Bytes of the v2 address block per family (spec §2.2). */
const V2_ADDRESS_LENGTH = { ipv4: 12, ipv6: 36, unix: 216 } as const;
/** Default bound on a v2 header with its TLVs: HAProxy's, with SSL TLVs, are a few hundred bytes. */
export const DEFAULT_MAX_HEADER_BYTES = 4096;

const INCOMPLETE: ParseResult = Object.freeze({ kind: 'incomplete' });
const invalid = (reason: string): ParseResult => ({ kind: 'invalid', reason });

/** True while `buf` is a prefix of `sig` (or `sig` a prefix of buf): a header could still follow. */
function startsLike(buf: Buffer, sig: Buffer): boolean {
  const n = Math.min(buf.length, sig.length);
  return buf.subarray(0, n).equals(sig.subarray(0, n));
}

/**
 * Parses the PROXY header at the start of `buf`. `maxHeaderBytes` bounds a v2 header (the
 * protocol allows 64 KiB of TLVs; an honest proxy sends far less, and each waiting connection
 * holds its bytes).
 */
export function parseProxyHeader(buf: Buffer, maxHeaderBytes = DEFAULT_MAX_HEADER_BYTES): ParseResult {
  if (buf.length === 0) return INCOMPLETE;
  if (buf[0] === V2_SIGNATURE[0]) {
    if (!startsLike(buf, V2_SIGNATURE)) return invalid('not a PROXY protocol header');
    return parseV2(buf, maxHeaderBytes);
  }
  if (!startsLike(buf, V1_PREFIX)) return invalid('not a PROXY protocol header');
  return parseV1(buf);
}

function parseV1(buf: Buffer): ParseResult {
  const limit = Math.min(buf.length, V1_MAX_LENGTH);
  let end = -1;
  for (let i = V1_PREFIX.length; i < limit; i++) {
    if (buf[i] === 0x0a) {
      if (buf[i - 1] !== 0x0d) return invalid('v1: line ends in LF without CR');
      end = i + 1;
      break;
    }
    // Printable ASCII and CR only: anything else cannot be part of a valid line.
    if ((buf[i] < 0x20 && buf[i] !== 0x0d) || buf[i] > 0x7e) return invalid('v1: control or non-ASCII byte in the header');
  }
  if (end < 0) return buf.length >= V1_MAX_LENGTH ? invalid(`v1: no CRLF within ${V1_MAX_LENGTH} bytes`) : INCOMPLETE;
  const line = buf.toString('latin1', 0, end - 2);
  const fields = line.split(' ');
  const proto = fields[1];
  if (proto === 'UNKNOWN') {
    // The spec: the rest of the line up to CRLF is to be ignored; the receiver uses the real peer.
    return { kind: 'header', length: end, header: { version: 1, command: 'proxy', family: 'unknown', transport: 'unspec', tlvs: [] } };
  }
  if (proto !== 'TCP4' && proto !== 'TCP6') return invalid(`v1: protocol "${proto ?? ''}" is not TCP4, TCP6 or UNKNOWN`);
  if (fields.length !== 6) return invalid('v1: expected "PROXY TCP4|TCP6 src dst sport dport" with single spaces');
  const [, , src, dst, sport, dport] = fields;
  const isFamily = proto === 'TCP4' ? isIPv4 : isIPv6;
  if (!isFamily(src) || !isFamily(dst)) return invalid(`v1: addresses are not both ${proto === 'TCP4' ? 'IPv4' : 'IPv6'}`);
  const sp = v1Port(sport);
  const dp = v1Port(dport);
  if (sp === undefined || dp === undefined) return invalid('v1: ports must be decimal 0..65535 without leading zeros');
  return {
    kind: 'header',
    length: end,
    header: {
      version: 1,
      command: 'proxy',
      family: proto === 'TCP4' ? 'ipv4' : 'ipv6',
      transport: 'stream',
      source: { address: canonical(src, proto === 'TCP6'), port: sp },
      destination: { address: canonical(dst, proto === 'TCP6'), port: dp },
      tlvs: [],
    },
  };
}

function v1Port(s: string): number | undefined {
  if (!/^(0|[1-9]\d{0,4})$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 65535 ? n : undefined;
}

function canonical(address: string, v6: boolean): string {
  return v6 ? formatIp(ipBytes(address)) : address;
}

function parseV2(buf: Buffer, maxHeaderBytes: number): ParseResult {
  if (buf.length < 16) return INCOMPLETE;
  const version = buf[12] >> 4;
  const cmd = buf[12] & 0x0f;
  if (version !== 2) return invalid(`v2: version ${version}, expected 2`);
  if (cmd > 1) return invalid(`v2: command ${cmd} is neither LOCAL (0) nor PROXY (1)`);
  const fam = buf[13] >> 4;
  const proto = buf[13] & 0x0f;
  if (fam > 3) return invalid(`v2: address family ${fam} is unknown`);
  if (proto > 2) return invalid(`v2: transport ${proto} is unknown`);
  const bodyLength = buf.readUInt16BE(14);
  const length = 16 + bodyLength;
  if (length > maxHeaderBytes) return invalid(`v2: header of ${length} bytes exceeds the ${maxHeaderBytes}-byte limit`);
  if (buf.length < length) return INCOMPLETE;

  const family = (['unknown', 'ipv4', 'ipv6', 'unix'] as const)[fam];
  const transport = (['unspec', 'stream', 'dgram'] as const)[proto];
  const command = cmd === 0 ? 'local' : 'proxy';
  const header: ProxyHeader = { version: 2, command, family, transport, tlvs: [] };
  let offset = 16;
  if (family !== 'unknown') {
    const need = V2_ADDRESS_LENGTH[family];
    if (bodyLength < need) {
      // LOCAL headers carry no meaningful address; the spec says to skip whatever is there.
      if (command === 'local') return { kind: 'header', length, header };
      return invalid(`v2: ${family} addresses need ${need} bytes, the header has ${bodyLength}`);
    }
    if (command === 'proxy' && family !== 'unix') {
      const ipLength = family === 'ipv4' ? 4 : 16;
      const portAt = 16 + 2 * ipLength;
      header.source = { address: formatIp(buf.subarray(16, 16 + ipLength)), port: buf.readUInt16BE(portAt) };
      header.destination = { address: formatIp(buf.subarray(16 + ipLength, portAt)), port: buf.readUInt16BE(portAt + 2) };
    }
    offset += need;
  }
  if (command === 'local') return { kind: 'header', length, header };
  // TLVs fill the rest exactly: a TLV that runs past the header means a broken sender.
  while (offset < length) {
    if (offset + 3 > length) return invalid('v2: truncated TLV');
    const type = buf[offset];
    const tlvLength = buf.readUInt16BE(offset + 1);
    if (offset + 3 + tlvLength > length) return invalid(`v2: TLV 0x${type.toString(16)} runs past the header`);
    header.tlvs.push({ type, value: Buffer.from(buf.subarray(offset + 3, offset + 3 + tlvLength)) });
    offset += 3 + tlvLength;
  }
  return { kind: 'header', length, header };
}
