// What becomes of the `Response` an app's fetch returned: a light response's parts taken as they
// are, a body known at once sent whole (compressed first, or its buffer handed over), HEAD given
// the headers GET would get, a streamed body pumped under the front's credit window, and a
// request that called ctx.upgrade() handed to the worker's WebSockets. Separate from link.ts,
// which owns the port (decoding the front's messages, calling the app, batching what goes out):
// these functions only fill in the request's answer and tell the link it has something to send.
// They are called directly from FrontLink.start, so the per-request path has no extra hop.
import { RESPONSE_WINDOW, TRANSFER_MIN } from '../../shared/protocol/index.js';
import { errorText } from '../../shared/errors.js';
import { GlobalResponse, flatHeaders, isLightResponse, lightParts, markBodyTaken, realResponse } from './light-response.js';
import { compressWhole, encodeHeaders, streamCompressor } from './compress-response.js';
import { byteLength, directBody, headerAt, toBytes } from './response-parts.js';
import type { FrontLink } from './link.js';
import type { WorkerRequest } from './request.js';

const noop = () => {};

/** The Content-Length a response's headers declare, or -1. */
export function contentLength(flat: string[]): number {
  const at = headerAt(flat, 'content-length');
  return at < 0 ? -1 : Number(flat[at + 1]);
}

/** The app answered request `r` with `res` (whatever it returned: checked here). */
export function respond(link: FrontLink, r: WorkerRequest, res: Response): void {
  if (r.upgrade !== null) return upgraded(link, r, res);
  try {
    respondWith(link, r, res);
  } catch (err) {
    // e.g. a Response whose body was already read: the request must not hang
    link.fail(r, 500, errorText(err));
  }
}

function respondWith(link: FrontLink, r: WorkerRequest, res: Response): void {
  if (r.finished) {
    if (res instanceof GlobalResponse && !isLightResponse(res) && res.body) res.body.cancel().catch(noop);
    return;
  }
  if (!(res instanceof GlobalResponse)) {
    link.fail(r, 500, `the app did not return a Response (got ${res === null ? 'null' : typeof res})`);
    return;
  }
  if (isLightResponse(res)) {
    const parts = lightParts(res);
    if (parts !== null) {
      r.status = parts.status;
      r.headers = parts.headers;
      whole(link, r, parts.body, res);
      return;
    }
    res = realResponse(res); // throws for a body already handed over: respond() answers 500
  }
  r.status = res.status;
  r.headers = flatHeaders(res.headers);
  if (r.isHead) {
    // HEAD gets the headers GET would (Content-Encoding, Vary), not the compressed length.
    if (r.compress !== null) {
      const known = directBody(res);
      encodeHeaders(
        r.headers,
        r.status,
        known !== null ? byteLength(known) : contentLength(r.headers),
        r.compress,
        link.server.compression!,
      );
    }
    if (res.body !== null) res.body.cancel().catch(noop);
    r.ended = true;
    link.markDirty(r);
    return;
  }
  const body = directBody(res);
  if (body !== null) {
    whole(link, r, body, null);
    return;
  }
  const stream = res.body;
  if (stream === null) {
    r.ended = true;
    link.markDirty(r);
    return;
  }
  r.reader = stream.getReader(); // throws for a body already read: respond() answers 500
  if (r.compress !== null) {
    const coding = encodeHeaders(r.headers, r.status, -1, r.compress, link.server.compression!);
    if (coding !== null) r.compressor = streamCompressor(coding, link.server.compression!);
  }
  link.markDirty(r); // the head goes out this tick even if the first chunk takes a while (SSE)
  void pump(link, r);
}

/** A response whose whole body is known now: one resFull. `light`: the LightResponse that owns `body`. */
function whole(link: FrontLink, r: WorkerRequest, body: string | Uint8Array | null, light: Response | null): void {
  if (setWhole(link, r, body, light)) link.markDirty(r);
}

/**
 * Makes `body` the whole answer of `r` (compressed, or HEAD's headers only, as the request asks).
 * True when it can be sent now; false when it is being compressed (`r` is marked dirty once it is).
 */
export function setWhole(link: FrontLink, r: WorkerRequest, body: string | Uint8Array | null, light: Response | null): boolean {
  r.ended = true;
  if (body !== null) {
    const n = byteLength(body);
    if (r.isHead) {
      // HEAD gets the headers the GET would have had: its coding, or its length unless the app said otherwise.
      const coding = r.compress === null ? null : encodeHeaders(r.headers!, r.status, n, r.compress, link.server.compression!);
      if (coding === null && headerAt(r.headers!, 'content-length') < 0) r.headers!.push('content-length', String(n));
    } else if (n > 0) {
      const coding = r.compress === null ? null : encodeHeaders(r.headers!, r.status, n, r.compress, link.server.compression!);
      if (coding !== null) {
        compressWhole(body, coding, link.server.compression!).then(
          (bytes) => {
            if (r.finished) return;
            r.whole = bytes;
            // compressBody's result owns its whole buffer: large ones are handed over, not copied.
            r.transferWhole = bytes.byteLength >= TRANSFER_MIN && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
            link.markDirty(r);
          },
          (err) => link.fail(r, 500, `compressing the response failed: ${errorText(err)}`),
        );
        return false;
      }
      if (typeof body !== 'string' && n >= TRANSFER_MIN && light !== null) {
        markBodyTaken(light); // ours alone (the light response copied it into the buffer pool): hand it over
        r.transferWhole = true;
      }
      r.whole = body;
    }
  }
  return true;
}

/** Reads a streamed body while the front has room for it (RESPONSE_WINDOW unacknowledged bytes). */
async function pump(link: FrontLink, r: WorkerRequest): Promise<void> {
  const reader = r.reader!;
  try {
    for (;;) {
      if (r.unacked >= RESPONSE_WINDOW) await new Promise<void>((resolve) => (r.creditWait = resolve));
      if (r.finished) break;
      const { done, value } = await reader.read();
      if (r.finished) break;
      if (done) {
        if (r.compressor !== null) link.queueBytes(r, await r.compressor.end());
        if (r.finished) break;
        r.ended = true;
        link.markDirty(r);
        return;
      }
      let bytes = toBytes(value);
      if (r.compressor !== null && bytes.byteLength > 0) {
        bytes = await r.compressor.push(bytes); // flushed: an event reaches the client at once
        if (r.finished) break;
      }
      if (bytes.byteLength === 0) continue;
      link.queueBytes(r, bytes);
    }
    reader.cancel().catch(noop);
  } catch (err) {
    if (!r.finished) link.fail(r, 500, errorText(err));
  }
}

/** fetch returned after ctx.upgrade(): the socket is accepted, whatever it returned. */
function upgraded(link: FrontLink, r: WorkerRequest, res: unknown): void {
  if (res instanceof GlobalResponse && !isLightResponse(res) && res.body) res.body.cancel().catch(noop);
  if (r.finished) return; // the client went away meanwhile
  link.server.ws!.accept(r);
  link.finish(r);
}
