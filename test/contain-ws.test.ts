// WebSocket containment (issue 18): a client cannot make the host hold more of its messages than
// websocket.maxPendingBytes (item 1), whatever the app (fetch handlers, `ws`, socket.io), and
// handshakes and frames are checked as RFC 6455 says (item 8).
import { expect } from 'chai';
import type { Socket } from 'node:net';
import { resolve } from 'node:path';
import { io } from 'socket.io-client';
import { exchange, type RawConn } from './fixtures/contain/net.js';
import { startHost, type TestHost } from './helpers/host.js';
import { getJson, getText } from './helpers/http.js';
import { parsePrometheus } from './helpers/prometheus.js';
import { waitFor, withTimeout } from './helpers/wait.js';
import { type Client, OpenClients } from './helpers/ws.js';

const F = (name: string) => resolve('test/fixtures/contain', name);
const CHAT = resolve('test/fixtures/ws/chat.mjs');
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** A client frame (masked unless told otherwise), payload under 126 bytes. */
function frame(opcode: number, payload: Buffer, mask = true): Buffer {
  const key = Buffer.from([0x11, 0x22, 0x33, 0x44]);
  const body = Buffer.from(payload);
  if (mask) for (let i = 0; i < body.length; i++) body[i] ^= key[i % 4];
  return Buffer.concat([Buffer.from([0x80 | opcode, (mask ? 0x80 : 0) | body.length]), mask ? key : Buffer.alloc(0), body]);
}

/** The frames the server sent after its 101 (payloads under 126 bytes), as [opcode, payload]. */
function serverFrames(c: RawConn): [number, Buffer][] {
  const raw = Buffer.from(c.text, 'latin1');
  let i = raw.indexOf('\r\n\r\n') + 4;
  const out: [number, Buffer][] = [];
  while (i + 2 <= raw.length && (raw[i + 1] & 0x7f) < 126) {
    const len = raw[i + 1] & 0x7f;
    out.push([raw[i] & 0x0f, raw.subarray(i + 2, i + 2 + len)]);
    i += 2 + len;
  }
  return out;
}
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
          { url: '/chat', module: CHAT, pool: { threads: 1 }, websocket: { maxBackpressure: '256k' } },
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

  it('maxPendingBytes: a flood of empty messages (each counts 64 bytes) is closed with 1013, and the worker drops what it still held', async () => {
    const c = await open.connect(`ws://127.0.0.1:${h.port}/sync/tiny`);
    await c.next((m) => m === 'ready');
    const before = (await stats('/sync')).handled;
    // 20,000 empty messages in a few writes: 1.25 MiB of counted cost against the 1 MiB bound,
    // ~400 s of handler time at 20 ms each if the worker worked through what it held.
    const raw = (c.ws as unknown as { _socket: Socket })._socket;
    const empty = frame(2, Buffer.alloc(0));
    raw.write(Buffer.concat(Array.from({ length: 20_000 }, () => empty)));
    expect(await withTimeout(c.closed, 10_000, 'the close of a flooding client')).to.deep.equal({
      code: 1013,
      reason: 'Too Many Unhandled Messages',
    });
    const s = await waitFor(
      async () => {
        const x = await stats('/sync');
        return x.closes.some((k) => k.code === 1013 && k.handledAtClose >= before) && x;
      },
      { timeout: 30_000, what: 'the app hears the close' },
    );
    // Handed to the app: what ran before the close reached the worker (a turn's worth), not 16,000.
    expect(s.handled - before, 'messages the app handled of the flood').to.be.below(100);
  });

  it('a client that closes properly has the messages it sent first handled, then its close', async () => {
    const c = await open.connect(`ws://127.0.0.1:${h.port}/sync/polite`);
    await c.next((m) => m === 'ready');
    const before = await stats('/sync');
    for (let i = 0; i < 5; i++) c.send(Buffer.from([i]));
    c.close(1000, 'bye');
    await c.closed;
    const s = await waitFor(
      async () => {
        const x = await stats('/sync');
        return x.closes.length > before.closes.length && x;
      },
      { timeout: 30_000, what: 'the app hears the close' },
    );
    expect(s.closes.at(-1)).to.deep.equal({ code: 1000, handledAtClose: before.handled + 5 });
  });

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

  describe('handshakes and frames (item 8)', () => {
    const upgrade = (version: string, key: string) =>
      `GET /chat/x HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: ${version}\r\n\r\n`;
    const closes = async () => (await getJson<{ closes: { code: number; reason: string }[] }>(h.url('/chat/state'))).json.closes;
    /** Opens a socket on /chat over a raw connection, past the app's hello. */
    const rawSocket = async () => {
      const c = await exchange(h.port, upgrade('13', KEY), 0);
      await c.until((x) => serverFrames(x).length > 0);
      expect(c.text).to.match(/^HTTP\/1\.1 101 /);
      return c;
    };

    it('a Sec-WebSocket-Version other than 13 gets 426 with Sec-WebSocket-Version: 13, before any app sees it', async () => {
      for (const version of ['8', '99', '', '13, 8']) {
        const c = await exchange(h.port, upgrade(version, KEY));
        await c.closed;
        expect(
          c.responses.map((r) => r.status),
          `version "${version}"`,
        ).to.deep.equal([426]);
        expect(c.responses[0].headers['sec-websocket-version']).to.equal('13');
      }
    });

    it('a Sec-WebSocket-Key that is not the base64 of 16 bytes gets 400 (uWS alone gave no answer at all)', async () => {
      for (const key of ['abc', 'x'.repeat(24), KEY.slice(0, 22), `${KEY}AAAA`, '!!!!!!!!!!!!!!!!!!!!!!==']) {
        const c = await exchange(h.port, upgrade('13', key));
        await c.closed;
        expect(
          c.responses.map((r) => r.status),
          `key "${key}"`,
        ).to.deep.equal([400]);
      }
    });

    it('close codes no endpoint may send (999, 1004, 1005, 1015, 2999, 5000): uWS answers an empty close frame, the app hears 1006', async () => {
      for (const code of [999, 1004, 1005, 1015, 2999, 5000]) {
        const before = (await closes()).length;
        const c = await rawSocket();
        const payload = Buffer.alloc(2);
        payload.writeUInt16BE(code);
        c.send(frame(8, payload));
        await c.closed;
        // Not the client's code echoed: a close frame without a code (RFC 6455 wants 1002 in it).
        expect(serverFrames(c).at(-1), `close ${code}`).to.deep.equal([8, Buffer.alloc(0)]);
        const after = await waitFor(async () => {
          const l = await closes();
          return l.length > before && l;
        });
        expect(after.at(-1)!.code, `close ${code}: what the app heard`).to.equal(1006);
      }
      // A valid code is echoed.
      const c = await rawSocket();
      c.send(frame(8, Buffer.from([0x0f, 0xa0])));
      await c.closed;
      expect(serverFrames(c).at(-1)).to.deep.equal([8, Buffer.from([0x0f, 0xa0])]);
    });

    it('an unmasked client frame and invalid UTF-8 text are cut by uWS (no close frame): the app never gets them, the host stays healthy', async () => {
      for (const [what, bad] of [
        ['unmasked text frame', frame(1, Buffer.from('echo unmasked'), false)],
        ['invalid UTF-8 text', frame(1, Buffer.from([0x65, 0x63, 0x68, 0x6f, 0x20, 0xff, 0xfe]))],
      ] as const) {
        const before = (await closes()).length;
        const c = await rawSocket();
        c.send(bad);
        c.send(frame(1, Buffer.from('echo after')));
        await c.closed;
        expect(
          serverFrames(c).map(([op, p]) => [op, p.toString()]),
          what,
        ).to.not.deep.include([1, 'unmasked']);
        expect(
          serverFrames(c).map(([, p]) => p.toString()),
          what,
        ).to.not.include('after');
        const after = await waitFor(async () => {
          const l = await closes();
          return l.length > before && l;
        });
        expect(after.at(-1), what).to.deep.equal({ code: 1006, reason: 'Received invalid UTF-8' });
      }
      const ok = await open.connect(`ws://127.0.0.1:${h.port}/chat/ok`);
      ok.send('echo still serving');
      expect(await ok.next((m) => m === 'still serving')).to.equal('still serving');
    });

    it('maxBackpressure holds per byte for publishes: a turn publishing 64 MB to a reader that stopped reading closes it with 1008 before most of it queues', async () => {
      const bytesOut = async () => {
        const { samples } = parsePrometheus((await getText(`http://127.0.0.1:${h.host.statusPort}/metrics`)).text);
        const s = samples.find(
          (x) => x.name === 'hostd_websocket_bytes_total' && x.labels.direction === 'out' && x.labels.mount === '/chat',
        );
        return s?.value ?? 0;
      };
      const slow = await open.connect(`ws://127.0.0.1:${h.port}/chat/slow`);
      await slow.next();
      const publisher = await open.connect(`ws://127.0.0.1:${h.port}/chat/pub`);
      await publisher.next();
      (slow.ws as unknown as { _socket: Socket })._socket.pause();
      const before = await bytesOut();
      publisher.send('pubburst 1000'); // 1000 × 64 KiB in one turn, to "room"
      publisher.send('echo done');
      await publisher.next((m) => m === 'done', 30_000);
      const queued = (await bytesOut()) - before;
      (slow.ws as unknown as { _socket: Socket })._socket.resume();
      expect((await withTimeout(slow.closed, 10_000, 'the slow reader closed')).code).to.be.oneOf([1008, 1006]);
      // What the front handed uWS for the slow reader: the kernel's buffers, the limit and a
      // quarter of it; before, the whole turn (64 MB).
      expect(queued, 'bytes queued for the reader that stopped').to.be.below(24 * 1024 * 1024);
      const states = await closes();
      expect(states.some((c) => c.code === 1008)).to.equal(true);
    });
  });
});
