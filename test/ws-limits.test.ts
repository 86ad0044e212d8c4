// The `websocket:` limits of an app mount, each with the close code a client sees: maxPayload
// (1009), maxBackpressure (1008, for direct sends and for publishes), idleTimeout (pings; a
// silent peer is cut), compression (permessage-deflate offered or not) and maxConnections (503
// on upgrade, counted over the pool).
import { expect } from 'chai';
import { resolve } from 'node:path';
import type { Socket } from 'node:net';
import { request } from 'undici';
import { startHost, type TestHost } from './helpers/host.js';
import { type Client, type ConnectOptions, OpenClients, refused, startsWith } from './helpers/ws.js';
import { waitFor } from './helpers/index.js';

const CHAT = resolve('test/fixtures/ws/chat.mjs');

describe('websockets: limits', function () {
  this.timeout(30_000);
  let h: TestHost;
  const open = new OpenClients();
  const client = async (path: string, opts: ConnectOptions = {}) => {
    const c = await open.connect(`ws://127.0.0.1:${h.port}${path}`, opts);
    await c.next(startsWith('{"hello"'));
    return c;
  };
  const socketOf = (c: Client) => (c.ws as unknown as { _socket: Socket })._socket;

  before(async () => {
    h = await startHost([
      {
        serverName: ['*'],
        apps: [
          { url: '/payload', module: CHAT, pool: { threads: 1 }, websocket: { maxPayload: 1024 } },
          { url: '/slow', module: CHAT, pool: { threads: 1 }, websocket: { maxBackpressure: '256k' } },
          { url: '/idle', module: CHAT, pool: { threads: 1 }, websocket: { idleTimeout: '2s' } },
          { url: '/deflate', module: CHAT, pool: { threads: 1 }, websocket: { compression: true } },
          { url: '/plain', module: CHAT, pool: { threads: 1 } },
          { url: '/few', module: CHAT, pool: { threads: 2 }, websocket: { maxConnections: 2 } },
        ],
      },
    ]);
  });
  afterEach(() => {
    open.terminateAll();
  });
  after(() => h?.close());

  it('maxPayload: a message of maxPayload bytes goes through; one byte more closes with 1009', async () => {
    const c = await client('/payload/x');
    c.send(Buffer.alloc(1024, 7));
    expect(((await c.next((m) => Buffer.isBuffer(m))) as Buffer).length).to.equal(1024);
    c.send(Buffer.alloc(1025, 7));
    expect(await c.closed).to.deep.equal({ code: 1009, reason: 'Message Too Big' });
    // Far beyond every limit on the address: uWS refuses to read it and cuts the connection
    // without a close frame. Here the largest maxPayload is the default 1 MiB, so its ceiling is 2 MiB.
    const big = await client('/payload/y');
    big.send(Buffer.alloc(2 * 1024 * 1024 + 1, 1));
    expect((await big.closed).code).to.equal(1006);
  });

  it('maxBackpressure: a client that stops reading is closed with 1008 once it is further behind', async () => {
    const c = await client('/slow/x');
    socketOf(c).pause();
    c.send('burst 200'); // 12.5 MiB in one turn: more than the socket buffers and the 256k limit
    const other = await client('/slow/y');
    other.send('echo still here');
    expect(await other.next((m) => m === 'still here')).to.equal('still here');
    socketOf(c).resume();
    expect(await c.closed).to.deep.equal({ code: 1008, reason: 'Backpressure Limit' });
  });

  it('maxBackpressure: a subscriber that stops reading is closed with 1008 by publishes too; readers stay', async () => {
    const slow = await client('/slow/sub');
    const publisher = await client('/slow/pub');
    const fine = await client('/slow/fine');
    socketOf(slow).pause();
    // 256 KiB per round, each round read by `fine` before the next: a reader never falls behind,
    // the paused one does once the kernel's buffers are full (a few MiB on loopback).
    const ppp = (m: unknown) => typeof m === 'string' && m.startsWith('ppp');
    let rounds = 0;
    // The paused client cannot see its close frame yet; the app hears close(ws, 1008) at once.
    const closes1008 = async () => {
      const state = (await (await request(`http://127.0.0.1:${h.port}/slow/state`)).body.json()) as { closes: { code: number }[] };
      return state.closes.filter((c) => c.code === 1008).length;
    };
    const before = await closes1008();
    while ((await closes1008()) === before && rounds < 400) {
      rounds++;
      publisher.send('pubburst 4');
      await waitFor(() => fine.messages.filter(ppp).length === rounds * 4, { timeout: 10_000, what: `round ${rounds} at the reader` });
      publisher.send('echo sync');
      await publisher.next((m) => m === 'sync');
    }
    expect(rounds).to.be.below(400);
    socketOf(slow).resume();
    expect((await slow.closed).code).to.equal(1008);
    publisher.send('echo alive');
    expect(await publisher.next((m) => m === 'alive')).to.equal('alive');
    fine.send('echo alive too');
    expect(await fine.next((m) => m === 'alive too')).to.equal('alive too');
    expect(publisher.messages.filter(ppp), 'the publisher is left out of its own publishes').to.have.length(0);
  });

  it('idleTimeout: a quiet client is pinged and stays; one that answers nothing is cut', async () => {
    const alive = await client('/idle/a');
    const dead = await client('/idle/b', { autoPong: false });
    let pings = 0;
    alive.ws.on('ping', () => pings++);
    const deadPinged = new Promise<void>((res) => dead.ws.once('ping', () => res()));
    await deadPinged;
    expect((await dead.closed).code).to.equal(1006);
    await waitFor(() => pings >= 2, { timeout: 10_000, what: 'two pings at the answering client' });
    alive.send('echo still open');
    expect(await alive.next((m) => m === 'still open')).to.equal('still open');
  });

  it('compression: permessage-deflate is negotiated where the mount offers it, and only there', async () => {
    const z = await client('/deflate/x', { perMessageDeflate: true });
    expect(z.ws.extensions).to.match(/permessage-deflate/);
    const text = 'compressible '.repeat(5000);
    z.send(`echo ${text}`);
    expect(await z.next((m) => m === text)).to.equal(text);
    const p = await client('/plain/x', { perMessageDeflate: true });
    expect(p.ws.extensions).to.equal('');
    p.send(`echo ${text}`);
    expect(await p.next((m) => m === text)).to.equal(text);
  });

  it('maxConnections: beyond it an upgrade gets 503; a closed socket frees its place', async () => {
    const a = await client('/few/a');
    await client('/few/b');
    const no = await refused(`ws://127.0.0.1:${h.port}/few/c`);
    expect(no.status).to.equal(503);
    expect(no.headers['retry-after']).to.equal('5');
    a.close();
    await a.closed;
    await waitFor(
      async () => {
        try {
          await client('/few/d');
          return true;
        } catch {
          return false;
        }
      },
      { timeout: 5000, what: 'an upgrade to succeed once a socket closed' },
    );
    const s = await h.host.status();
    const ws = (s.hosts[0].mounts.find((m) => m.url === '/few') as { websocket: { overLimit: number } }).websocket;
    expect(ws.overLimit).to.be.at.least(1);
  });
});
