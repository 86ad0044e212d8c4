// The path a request is routed on, as nginx routes (before it matches locations): repeated
// slashes merged, "." and ".." segments resolved, "%2e" counting as "." and "\" as "/" (WHATWG
// URLs, and so every app's `new URL(request.url)`, read them that way). Routing, static files,
// the response cache, WebSockets and the app all get this one path: a request for /c/../n/x is a
// request for /n/x, not one the /c mount routes and whose app then sees /n/x (issue 18 item 7).
// A path that climbs above the root gets 400, as nginx answers.

/** Segments that are "." or ".." once "%2e" is read as ".". */
function dots(segment: string): 0 | 1 | 2 {
  const s = segment.length <= 6 ? segment.toLowerCase().replaceAll('%2e', '.') : segment;
  return s === '.' ? 1 : s === '..' ? 2 : 0;
}

/** True when `path` needs no work (the common case: one scan, no allocation). */
function plain(path: string): boolean {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 92 /* \ */ || c === 37 /* % */) return false;
    if (c === 47 /* / */) {
      const n = path.charCodeAt(i + 1);
      if (n === 47 || n === 46 /* . */) return false;
    }
  }
  return true;
}

/** The normalised form of a request path (no query), or null when it climbs above the root. */
export function normalizePath(path: string): string | null {
  if (plain(path)) return path;
  const parts = path.replaceAll('\\', '/').split('/');
  const out: string[] = [];
  // parts[0] is what precedes the first "/" (empty for an origin-form target).
  for (let i = 1; i < parts.length; i++) {
    const seg = parts[i];
    const last = i === parts.length - 1;
    const d = seg === '' ? -1 : dots(seg);
    if (d === 0) out.push(seg);
    else if (d === 2) {
      if (out.length === 0) return null;
      out.pop();
    }
    // "/x/." and "/x/.." and "/x/" name a directory: the path keeps its trailing slash.
    if (last && d !== 0) out.push('');
  }
  return `${parts[0]}/${out.join('/')}`;
}
