// Conditional GET (RFC 9110 §13): If-None-Match (weak comparison, lists, "*") and
// If-Modified-Since (only consulted when If-None-Match is absent).

/** Opaque part of an entity tag: `W/"x"` and `"x"` both give `"x"`. */
function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/** If-None-Match against the current ETag, with the weak comparison the RFC prescribes. */
export function noneMatch(header: string, etag: string): boolean {
  // Fast path: browsers echo the tag back verbatim.
  if (header === etag) return true;
  const want = opaque(etag);
  for (const part of header.split(',')) {
    const t = part.trim();
    if (t === '*' || (t !== '' && opaque(t) === want)) return true;
  }
  return false;
}

/**
 * If-Modified-Since: true when the file has not changed since the given date (HTTP dates have
 * one-second resolution, so the file time is truncated to seconds). Unparsable dates: false.
 */
export function notModifiedSince(header: string, lastModified: string, mtimeMs: number): boolean {
  if (header === lastModified) return true;
  const t = Date.parse(header);
  if (Number.isNaN(t)) return false;
  return Math.floor(mtimeMs / 1000) * 1000 <= t;
}
