// Range and If-Range handling (RFC 9110 §14) on top of range-parser.
//
// Choices:
// - Multi-range requests ("bytes=0-1,5-6" that do not merge into one range) get a plain 200
//   with the whole file. RFC 9110 allows a server to ignore Range; multipart/byteranges bodies
//   are rare in practice (only some PDF viewers ask) and not worth their complexity here.
//   Overlapping or adjacent ranges are merged first (range-parser `combine`), so "0-5,6-9"
//   is one range and gets a 206.
// - A malformed header, or a unit other than "bytes", is ignored: 200 with the whole file.
// - range-parser 1.3 drops a suffix range longer than the file ("bytes=-500" on 100 bytes);
//   RFC 9110 says that means the whole file, so such suffixes are clamped to the size first.
import rangeParser from 'range-parser';

export type RangeDecision =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number } // inclusive, 0 <= start <= end < size
  | { kind: 'unsatisfiable' };

const FULL: RangeDecision = { kind: 'full' };
const UNSATISFIABLE: RangeDecision = { kind: 'unsatisfiable' };
const OVERSIZED_SUFFIX = /^\s*-\s*(\d+)\s*$/;

function clampSuffixes(size: number, header: string): string {
  const eq = header.indexOf('=');
  if (eq === -1) return header;
  let changed = false;
  const specs = header
    .slice(eq + 1)
    .split(',')
    .map((spec) => {
      const m = OVERSIZED_SUFFIX.exec(spec);
      if (m && size > 0 && Number(m[1]) > size) {
        changed = true;
        return `-${size}`;
      }
      return spec;
    });
  return changed ? header.slice(0, eq + 1) + specs.join(',') : header;
}

/** What to send for a Range header on a representation of `size` bytes. */
export function decideRange(size: number, header: string): RangeDecision {
  const parsed = rangeParser(size, clampSuffixes(size, header), { combine: true });
  if (parsed === -2) return FULL;
  if (parsed === -1) return UNSATISFIABLE;
  if (parsed.type !== 'bytes') return FULL;
  if (parsed.length !== 1) return FULL; // multi-range: whole file, see above
  const r = parsed[0];
  return { kind: 'partial', start: r.start, end: r.end };
}

/**
 * If-Range: the range applies only when the validator still matches. An entity tag must match
 * strongly (a weak tag never does, RFC 9110 §13.1.5); a date must equal Last-Modified exactly.
 */
export function ifRangeAllows(ifRange: string, etag: string, lastModified: string): boolean {
  // An entity tag starts with '"' or 'W/' (not just 'W': "Wed, ..." is a date).
  if (ifRange.charCodeAt(0) === 34 /* " */ || ifRange.startsWith('W/')) return ifRange === etag && !etag.startsWith('W/');
  if (ifRange === lastModified) return true;
  const t = Date.parse(ifRange);
  return !Number.isNaN(t) && t === Date.parse(lastModified);
}
