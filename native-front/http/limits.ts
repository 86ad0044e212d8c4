// Request limits the front enforces itself, beside those built into uWebSockets.js v20.30:
// - header block: uWS accepts a header block that arrives in one read (up to ~64 KB) and closes
//   the connection, without a response, when a block larger than ~4 KB spans several reads.
//   hostd answers 431 to app requests whose headers exceed MAX_HEADER_BYTES (the app dispatch
//   already walks the headers, so counting them there is nearly free);
// - idle keep-alive connections and slow (incomplete) header blocks: uWS closes them after
//   about 10 s (fixed in the binary, not configurable).

/** Header bytes (as on the wire: `name: value\r\n`) above which an app request gets 431. */
export const MAX_HEADER_BYTES = 16 * 1024;

/** The size of a flat [name, value, name, value, ...] header list as it was on the wire. */
export function headerBytes(flat: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < flat.length; i++) n += flat[i].length;
  return n + (flat.length >> 1) * 4; // ": " and CRLF per header line
}

/** True when the header list is over `limit` bytes (default MAX_HEADER_BYTES). */
export function headersTooLarge(flat: readonly string[], limit = MAX_HEADER_BYTES): boolean {
  return headerBytes(flat) > limit;
}
