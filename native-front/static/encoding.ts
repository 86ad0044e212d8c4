// Choosing among a static file's encoded representations from Accept-Encoding: its .br/.gz
// siblings, or the compressed forms hostd made for files without one (load.ts). The rules and
// the memo (q-values honoured, q=0 refuses, "*" counts; one Map lookup per hit) are the
// compress module's, shared with app responses.
//
// Ranges: a sibling file is a stable representation with a strong ETag of its own, so a range
// request that negotiates br gets bytes of the .br file (as nginx's gzip_static does). A form
// hostd compressed itself is answered with the identity bytes instead: RFC 9110 lets a
// representation be chosen per request, nginx's on-the-fly gzip does not compress ranges
// either (it answers the whole compressed body), and compressed output is not promised
// byte-identical across zlib versions, which a resumed download would need.
import { negotiateCoding, type Coding } from '../../shared/compress/index.js';

export type { Coding };

/**
 * The coding to serve, or null for the identity file. `hasBr`/`hasGzip` say which encoded
 * representations exist. An empty header means no preference: identity.
 */
export function chooseCoding(acceptEncoding: string, hasBr: boolean, hasGzip: boolean): Coding | null {
  return negotiateCoding(acceptEncoding, hasBr, hasGzip);
}
