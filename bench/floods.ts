// The soak's two floods (issue 18), each a phase of `npm run soak` with the serving process's
// RSS sampled before, during (every 500 ms) and after:
//
// - WebSocket flood: two raw clients (node:net, one frame built once) send 512 KiB messages as
//   fast as their sockets take them to a handler that takes 20 ms per message
//   (bench/apps/slow-ws.mjs), each for 8 s, then vanish without a close; again and again. Flow control holds them back (TCP), or a limit closes them;
//   either way the front must not queue what the worker has not handled without bound.
// - Cache-key flood: four keep-alive clients ask a cached mount (bench/apps/vary.mjs) for keys
//   never seen before, round robin: an 8 KB User-Agent of their own on one URL (a `Vary` variant),
//   a new URL, a new URL answered `no-store` (an "uncacheable" mark). The cache's bookkeeping of
//   all that must stay within its maxSize.
//
// RSS stays flat: the peak during the phase at most 20% + 64 MB over the RSS before it. A flood
// that takes the process over 1.5 GB more than before is stopped early (and judged GREW).

import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Agent, request } from 'undici';

const MB = 1024 * 1024;
const ABORT_GROWTH = 1536 * MB;

export interface FloodResult {
  name: string;
  seconds: number;
  /** what the flood did: messages, bytes, requests, statuses, close codes */
  counts: Record<string, number>;
  rssBefore: number;
  rssPeak: number;
  rssAfter: number;
  flat: boolean;
  stoppedEarly: boolean;
}

/** Runs `flood` for `ms` while sampling `rss()`; stops it early when the process balloons. */
export async function floodPhase(
  name: string,
  ms: number,
  rss: () => number,
  flood: (until: () => boolean, counts: Record<string, number>) => Promise<void>,
): Promise<FloodResult> {
  const counts: Record<string, number> = {};
  const rssBefore = rss();
  let rssPeak = rssBefore;
  let stoppedEarly = false;
  const end = Date.now() + ms;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, rss());
    if (rssPeak - rssBefore > ABORT_GROWTH) stoppedEarly = true;
  }, 500);
  const t0 = Date.now();
  try {
    await flood(() => stoppedEarly || Date.now() >= end, counts);
  } finally {
    clearInterval(sampler);
  }
  const rssAfter = rss();
  rssPeak = Math.max(rssPeak, rssAfter);
  return {
    name,
    seconds: Math.round((Date.now() - t0) / 1000),
    counts,
    rssBefore,
    rssPeak,
    rssAfter,
    flat: !stoppedEarly && rssPeak <= rssBefore * 1.2 + 64 * MB,
    stoppedEarly,
  };
}

const bump = (counts: Record<string, number>, key: string, n = 1) => {
  counts[key] = (counts[key] ?? 0) + n;
};

/**
 * One masked binary frame of 512 KiB, built once and written again and again (the mask key is
 * zero, so the payload needs no masking: a client as cheap as the issue's, which sent 710
 * messages a second, where the `ws` library's masking would make the client the bottleneck).
 */
function floodFrame(bytes: number): Buffer {
  const head = Buffer.alloc(14);
  head[0] = 0x82; // FIN, binary
  head[1] = 0x80 | 127; // masked, 64-bit length
  head.writeBigUInt64BE(BigInt(bytes), 2);
  // bytes 10..13: the mask key, 0
  return Buffer.concat([head, Buffer.alloc(bytes, 'f')]);
}

/** One client: 8 s (or until `done`) of 512 KiB messages, each written once the socket takes more. */
async function wsFlooder(host: string, port: number, path: string, done: () => boolean, counts: Record<string, number>): Promise<void> {
  const frame = floodFrame(512 * 1024);
  while (!done()) {
    const sock = net.connect(port, host);
    let closedBy: string | undefined;
    let gone = false;
    let answer = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      if (answer.length < 4096) answer = Buffer.concat([answer, d]);
      const body = answer.indexOf('\r\n\r\n');
      // After the 101, a close frame (0x88) from hostd carries its code.
      if (body >= 0 && closedBy === undefined && answer[body + 4] === 0x88 && answer.length >= body + 8)
        closedBy = String(answer.readUInt16BE(body + 6));
    });
    const ended = new Promise<void>((resolve) => {
      sock.on('close', () => {
        gone = true;
        resolve();
      });
      sock.on('error', (err) => {
        bump(counts, `error ${(err as { code?: string }).code ?? err.message}`);
      });
    });
    sock.write(
      `GET ${path} HTTP/1.1\r\nHost: soak\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    const upgraded = await Promise.race([
      (async () => {
        while (!gone && !done() && !answer.includes('\r\n\r\n')) await new Promise((r) => setTimeout(r, 5));
        return answer.subarray(0, 12).toString() === 'HTTP/1.1 101';
      })(),
      ended.then(() => false),
    ]);
    if (!upgraded && done()) {
      sock.destroy(); // the phase ended while the handshake was pending
      break;
    }
    if (!upgraded) {
      bump(counts, `refused: ${answer.subarray(0, answer.indexOf('\r\n')).toString() || 'closed'}`);
      sock.destroy();
      await new Promise((r) => setTimeout(r, 100)); // not in a tight loop
      continue;
    }
    bump(counts, 'connections');
    const stopAt = Date.now() + 8000;
    // Write while the socket takes it; when hostd stops reading (TCP pushes back), wait.
    let writable = true;
    sock.on('drain', () => {
      writable = true;
    });
    while (!gone && !done() && Date.now() < stopAt) {
      if (!writable) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      writable = sock.write(frame);
      bump(counts, 'messages written');
      bump(counts, 'MB written', 0.5);
    }
    if (closedBy) bump(counts, `closed by hostd ${closedBy}`);
    else if (gone) bump(counts, 'cut by hostd');
    sock.destroy(); // the client vanishes, as the issue's did: no close handshake
  }
}

/** Two flooding clients against the WebSocket mount at `path`. */
export function wsFlood(port: number, path: string): (done: () => boolean, counts: Record<string, number>) => Promise<void> {
  return async (done, counts) => {
    await Promise.all([wsFlooder('127.0.0.1', port, path, done, counts), wsFlooder('127.0.0.1', port, path, done, counts)]);
  };
}

/** Four clients asking `base` (a cached mount) for keys never seen before. */
export function cacheKeyFlood(base: string): (done: () => boolean, counts: Record<string, number>) => Promise<void> {
  return async (done, counts) => {
    const agent = new Agent({ connections: 4, headersTimeout: 20_000, bodyTimeout: 20_000 });
    const pad = 'x'.repeat(8 * 1024);
    let n = 0;
    const client = async () => {
      while (!done()) {
        const i = n++;
        const [path, ua, kind] =
          i % 3 === 0
            ? [`${base}/page`, `flood-${i}-${pad}`, 'Vary variants (8 KB User-Agent)']
            : i % 3 === 1
              ? [`${base}/k${i}`, 'soak', 'new URLs']
              : [`${base}/u${i}?nostore`, 'soak', 'uncacheable URLs'];
        try {
          const res = await request(path, { headers: { 'user-agent': ua }, dispatcher: agent });
          await res.body.dump();
          bump(counts, `${kind} ${res.statusCode}`);
        } catch (err) {
          bump(counts, `${kind} ${(err as { code?: string }).code ?? (err as Error).message}`);
        }
      }
    };
    try {
      await Promise.all([client(), client(), client(), client()]);
    } finally {
      await agent.close();
    }
  };
}

export function floodText(r: FloodResult): string {
  const mb = (b: number) => `${Math.round(b / MB)} MB`;
  const counts = Object.entries(r.counts)
    .map(([k, v]) => `${k} × ${Number.isInteger(v) ? v : v.toFixed(1)}`)
    .join(', ');
  return `${r.name} (${r.seconds} s): RSS ${mb(r.rssBefore)} before, ${mb(r.rssPeak)} peak, ${mb(r.rssAfter)} after (${r.flat ? 'flat' : 'GREW'}${r.stoppedEarly ? `; stopped early: over ${mb(ABORT_GROWTH)} above the start` : ''})\n    ${counts}`;
}
