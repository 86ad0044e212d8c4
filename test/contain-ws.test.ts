// WebSocket containment (issue 18): a client cannot make the host hold more of its messages than
// websocket.maxPendingBytes (item 1), whatever the app (fetch handlers, `ws`, socket.io), and
// handshakes and frames are checked as RFC 6455 says (item 8).
import { expect } from 'chai';
import { resolve } from 'node:path';
import { io } from 'socket.io-client';
import { startHost, type TestHost } from './helpers/host.js';
import { getJson } from './helpers/http.js';
import { waitFor, withTimeout } from './helpers/wait.js';
import { type Client, OpenClients } from './helpers/ws.js';

const F = (name: string) => resolve('test/fixtures/contain', name);
const MSG = 512 * 1024;
/** Messages a flood sends at most: 300 MB, far beyond any bound here. */
const FLOOD_MAX = 600;
/** Growth of this process (host and clients) a bounded flood stays under: not a tight bound. */
const RSS_BOUND = 200 * 1024 * 1024;

interface Stats {
  handled: number;
  closes: { code: number | string; handledAtClose: number }[];
}

describe('contain: WebSockets', function () {
  this.timeout(120_000);
  let h: TestHost;
  const open = new OpenClients();
  const stats = async (mount: string) => (await getJson<Stats>(h.url(`${mount}/stats`))).json;

  before(async () => {
    h = await startHost([
      {
        serverName: ['*'],
        apps: [
          { url: '/sync', module: F('ws-slow-fetch.mjs'), pool: { threads: 1 }, websocket: { maxPendingBytes: '1m' } },
          { url: '/async', module: F('ws-slow-fetch.mjs'), pool: { threads: 1 }, websocket: { maxPendingBytes: '1m' } },
          // The default bound (4 MiB with the default maxPayload).
          { url: '/node', module: F('ws-slow-node.mjs'), interface: 'node', pool: { threads: 1 } },
          { url: '/sio', module: F('ws-slow-socketio.mjs'), interface: 'node', pool: { threads: 1 } },
        ],
      },
    ]);
  });
  afterEach(() => open.terminateAll());
  after(() => h?.close());

  /** Sends 512 KB messages as fast as the connection takes them until the socket closes (or FLOOD_MAX). */
  async function flood(c: Client): Promise<{ sent: number; peakGrowth: number }> {
    const chunk = Buffer.alloc(MSG, 1);
    const base = process.memoryUsage().rss;
    let peak = base;
    let closed = false;
    void c.closed.then(() => (closed = true));
    let sent = 0;
    while (!closed && sent < FLOOD_MAX) {
      const ok = await new Promise<boolean>((res) => c.ws.send(chunk, (err) => res(!err)));
      if (!ok) break;
      sent++;
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    return { sent, peakGrowth: peak - base };
  }

  /**
   * After the client saw the close: the app stops handling the flood within the bound (what the
   * host held for it then), and hears the close.
   */
  async function handledAfterClose(mount: string, maxPending: number): Promise<Stats> {
    const atClose = await stats(mount);
    const s = await waitFor(
      async () => {
        const x = await stats(mount);
        return x.closes.length > 0 && x;
      },
      { timeout: 30_000, what: `${mount}: the app hears the close` },
    );
    // What the host held when it closed: at most maxPending bytes, plus the message in the worker's hands.
    const bound = Math.floor(maxPending / MSG) + 1;
    expect(s.handled - atClose.handled, 'messages handled after the client saw the close').to.be.at.most(bound);
    // Only what the app had started (async handlers) finishes after it heard the close.
    expect(s.handled - s.closes[0].handledAtClose, 'messages finished after the app heard the close').to.be.at.most(bound);
    return s;
  }

  for (const mode of ['sync', 'async'] as const) {
    it(`maxPendingBytes: a fetch app's ${mode} handler 20 ms per message, a client flooding 512 KB messages: closed with 1013, memory bounded`, async () => {
      const c = await open.connect(`ws://127.0.0.1:${h.port}/${mode}/x?mode=${mode}`);
      await c.next((m) => m === 'ready');
      const { sent, peakGrowth } = await flood(c);
      const closed = await withTimeout(c.closed, 10_000, 'the close of a flooding client');
      expect(closed).to.deep.equal({ code: 1013, reason: 'Too Many Unhandled Messages' });
      expect(sent, 'messages the flood got out before the close').to.be.below(FLOOD_MAX);
      expect(peakGrowth, 'RSS growth during the flood').to.be.below(RSS_BOUND);
      const s = await handledAfterClose(`/${mode}`, 1024 * 1024);
      expect(s.closes[0].code).to.equal(1013);
      // The host still serves the mount.
      const again = await open.connect(`ws://127.0.0.1:${h.port}/${mode}/y?mode=${mode}`);
      await again.next((m) => m === 'ready');
    });
  }

  it('maxPendingBytes: an unmodified `ws` app (default bound, 4 MiB) behind a flood: closed with 1013, memory bounded', async () => {
    const c = await open.connect(`ws://127.0.0.1:${h.port}/node/x`);
    await c.next((m) => m === 'ready');
    const { sent, peakGrowth } = await flood(c);
    expect(await withTimeout(c.closed, 10_000, 'the close of a flooding client')).to.deep.equal({
      code: 1013,
      reason: 'Too Many Unhandled Messages',
    });
    expect(sent).to.be.below(FLOOD_MAX);
    expect(peakGrowth, 'RSS growth during the flood').to.be.below(RSS_BOUND);
    const s = await handledAfterClose('/node', 4 * 1024 * 1024);
    expect(s.closes[0].code).to.equal(1013);
  });

  it('maxPendingBytes: socket.io behind a flood of 512 KB events: the connection is closed with 1013, memory bounded', async () => {
    const socket = io(`http://127.0.0.1:${h.port}`, { path: '/sio/socket.io', transports: ['websocket'], reconnection: false });
    try {
      await new Promise<void>((res, rej) => {
        socket.once('ready', () => res());
        socket.once('connect_error', rej);
      });
      // The engine's own `ws` socket carries the close code (socket.io reports "transport close").
      const engine = socket.io.engine as unknown as { writeBuffer: unknown[]; transport: { ws: import('ws').WebSocket } };
      const raw = engine.transport.ws;
      const code = new Promise<number>((res) => raw.once('close', (c: number) => res(c)));
      let disconnected = false;
      socket.once('disconnect', () => (disconnected = true));
      const base = process.memoryUsage().rss;
      let peak = base;
      const chunk = Buffer.alloc(MSG, 1);
      let sent = 0;
      while (!disconnected && sent < FLOOD_MAX) {
        socket.emit('m', chunk);
        sent++;
        // Written to the connection before the next one (the client would buffer without bound).
        await waitFor(() => disconnected || (engine.writeBuffer.length === 0 && raw.bufferedAmount === 0), {
          interval: 1,
          what: 'the client to write its message',
        });
        peak = Math.max(peak, process.memoryUsage().rss);
      }
      expect(await withTimeout(code, 10_000, 'the close of a flooding socket.io client')).to.equal(1013);
      expect(sent).to.be.below(FLOOD_MAX);
      expect(peak - base, 'RSS growth during the flood').to.be.below(RSS_BOUND);
      await handledAfterClose('/sio', 4 * 1024 * 1024);
    } finally {
      socket.close();
    }
  });
});
