// URL path -> file path under a static mount's directory. Pure string logic (no fs), so it can be
// tested exhaustively with properties: whatever the client sends, the answer is either a refusal
// or a path inside `root`.
//
// The raw path is split on "/" *before* percent-decoding, and each segment is decoded exactly
// once. That makes an encoded slash (%2f) a character inside a segment (refused), keeps double
// encoding (%252e -> the literal name "%2e") harmless, and lets every check run on the exact
// name the file system will see.

export type ResolvedPath =
  | {
      ok: true;
      /** Decoded path relative to root, segments joined with "/" ("" for the root itself). */
      rel: string;
      /** Absolute file path: root, or root + "/" + rel. */
      path: string;
      /** The URL ended in "/" (a directory URL: serve its index, never a file). */
      trailingSlash: boolean;
    }
  | {
      ok: false;
      /** 400: malformed or hostile (bad escapes, "..", NUL, backslash, encoded slash); 404: hidden. */
      status: 400 | 404;
      reason: string;
    };

export interface ResolveOptions {
  /** Serve names starting with "." (files and directories); default false: 404. */
  dotfiles: boolean;
}

const HEX = /^[0-9a-fA-F]{2}$/;

function bad(reason: string): ResolvedPath {
  return { ok: false, status: 400, reason };
}

/**
 * Decodes one path segment. Returns null for invalid percent-encoding or invalid UTF-8
 * (decodeURIComponent refuses overlong forms such as %c0%ae and lone surrogates).
 */
function decodeSegment(seg: string): string | null {
  if (seg.indexOf('%') === -1) return seg;
  // decodeURIComponent accepts nothing malformed, but check the shape first so "%zz" and a
  // trailing "%" get a clear reason rather than an exception.
  for (let i = seg.indexOf('%'); i !== -1; i = seg.indexOf('%', i + 1)) {
    if (!HEX.test(seg.slice(i + 1, i + 3))) return null;
  }
  try {
    return decodeURIComponent(seg);
  } catch {
    return null;
  }
}

/**
 * Maps `rawPath` (the URL path after the mount prefix, still percent-encoded, "" or starting
 * with "/") to a file under `root` (absolute, no trailing slash unless it is "/").
 */
export function resolveUrlPath(root: string, rawPath: string, opts: ResolveOptions): ResolvedPath {
  if (rawPath !== '' && rawPath.charCodeAt(0) !== 47 /* / */) return bad('path does not start with /');
  // Raw backslashes and NULs are refused before decoding as well as after: some file systems
  // and proxies treat "\" as a separator.
  if (rawPath.indexOf('\\') !== -1 || rawPath.indexOf('\0') !== -1) return bad('backslash or NUL in path');

  const parts = rawPath.split('/');
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const raw = parts[i];
    if (raw === '') continue; // leading "/", "//", trailing "/"
    const seg = decodeSegment(raw);
    if (seg === null) return bad('invalid percent-encoding');
    if (seg.indexOf('/') !== -1) return bad('encoded slash in path');
    if (seg.indexOf('\\') !== -1) return bad('encoded backslash in path');
    if (seg.indexOf('\0') !== -1) return bad('NUL in path');
    if (seg === '.' || seg === '..') return bad('dot segment in path');
    if (seg.charCodeAt(0) === 46 /* . */ && !opts.dotfiles) return { ok: false, status: 404, reason: 'dotfile' };
    out.push(seg);
  }

  const rel = out.join('/');
  const prefix = root.endsWith('/') ? root : root + '/';
  const path = rel === '' ? root : prefix + rel;
  // Belt and braces: no segment can be "..", contain "/" or be empty, so this always holds.
  if (path !== root && !path.startsWith(prefix)) return bad('path escapes root');
  return { ok: true, rel, path, trailingSlash: rawPath.endsWith('/') };
}

/** True when `p` (absolute, normalised, e.g. a realpath) is `root` or lies under it. */
export function isInside(root: string, p: string): boolean {
  if (p === root) return true;
  const prefix = root.endsWith('/') ? root : root + '/';
  return p.startsWith(prefix);
}
