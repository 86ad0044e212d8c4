// Node apps with WebSockets, unmodified: a `ws` WebSocketServer on the app's http.Server, ws in
// noServer mode refusing or accepting in its own 'upgrade' handler, and socket.io 4 with two
// workers and its default transports (long-polling first, then the upgrade), whose sessions must
// reach the worker that holds them (engine.io's sid, recognised by hostd).
import { expect } from 'chai';
import { resolve } from 'node:path';
import { io, type Socket as IoSocket } from 'socket.io-client';
import { startHost, type TestHost } from './helpers/host.js';
import { OpenClients, refused, startsWith } from './helpers/ws.js';
import { waitFor } from './helpers/index.js';

const F = (name: string) => resolve('test/fixtures/ws', name);

describe('websockets: node apps', function () {
  this.timeout(40_000);
  let h: TestHost;
  const open = new OpenClients();
  const client = (path: string, protocols?: string[]) => open.connect(`ws://127.0.0.1:${h.port}${path}`, { protocols });

  before(async () => {
    h = await startHost([
      {
        serverName: ['*'],
        apps: [
          { url: '/', module: F('ws-server.mjs'), pool: { threads: 2 } },
          { url: '/one', module: F('ws-server.mjs'), pool: { threads: 1 } },
          { url: '/manual', module: F('ws-noserver.mjs'), interface: 'node', pool: { threads: 1 } },
          { url: '/io', module: F('socketio.mjs'), pool: { threads: 2 } },
        ],
      },
    ]);
  });
  afterEach(() => {
    open.terminateAll();
  });
  after(() => h?.close());

  it('ws (WebSocketServer on the app’s server): handshake, text, binary, the app’s close code, its path check', async () => {
    const c = await client('/ws?room=1', ['chat.v1']);
    expect(c.ws.protocol).to.equal('chat.v1');
    expect(await c.next()).to.equal('welcome 127.0.0.1 /ws?room=1 chat.v1');
    c.send('hello');
    expect(await c.next()).to.equal('echo hello');
    c.send(Buffer.from([1, 2, 3, 250]));
    expect([...((await c.next((m) => Buffer.isBuffer(m))) as Buffer)]).to.deep.equal([1, 2, 3, 250]);
    c.send('big 200000'); // one message the library writes in pieces
    expect(((await c.next(startsWith('zzz'))) as string).length).to.equal(200_000);
    c.send('close 4010');
    expect(await c.closed).to.deep.equal({ code: 4010, reason: 'as asked' });
    // ws's own refusal for another path: 400 from the library, over HTTP.
    expect((await refused(`ws://127.0.0.1:${h.port}/elsewhere`)).status).to.equal(400);
  });

  it('ws: the heartbeat recipe (ping, expect pong) works through the front; terminate() cuts; client close codes reach the app', async () => {
    const c = await client('/ws');
    await c.next(startsWith('welcome'));
    c.send('ping');
    expect(await c.next(startsWith('pong'))).to.equal('pong hb');
    c.send('terminate');
    expect((await c.closed).code).to.equal(1006);
    const d = await client('/one/ws');
    await d.next(startsWith('welcome'));
    d.close(4321, 'client says bye');
    await d.closed;
    // The app's 'close' listener saw the client's code (one worker on /one: ask it).
    await waitFor(
      async () => {
        const e = await client('/one/ws');
        await e.next(startsWith('welcome'));
        e.send('lastclose');
        return (await e.next(startsWith('lastclose'))) === 'lastclose 4321 client says bye';
      },
      { timeout: 10_000, what: 'the app to have seen the close code' },
    );
  });

  it('ws noServer + server.on("upgrade") + handleUpgrade: the app refuses with its own 401, or accepts', async () => {
    const no = await refused(`ws://127.0.0.1:${h.port}/manual/x?token=no`);
    expect(no.status).to.equal(401);
    expect(no.body).to.equal('denied\n');
    const c = await client('/manual/x?token=ok');
    c.send('hi');
    expect(await c.next()).to.equal('got hi');
  });

  it('socket.io 4, two workers, default transports: sessions on both workers upgrade, 200 messages each, none lost', async () => {
    const clients: IoSocket[] = [];
    try {
      const threads = new Set<number>();
      for (let i = 0; i < 4; i++) {
        const s = io(`http://127.0.0.1:${h.port}`, { path: '/io/socket.io/', reconnection: false });
        clients.push(s);
        const hi = await new Promise<{ thread: number; transport: string }>((res, rej) => {
          s.once('hello', res);
          s.once('connect_error', rej);
        });
        expect(hi.transport).to.equal('polling');
        threads.add(hi.thread);
      }
      expect(threads.size, 'sessions on both workers').to.equal(2);
      await Promise.all(
        clients.map(
          (s) =>
            new Promise<void>((res) => (s.io.engine.transport.name === 'websocket' ? res() : s.io.engine.once('upgrade', () => res()))),
        ),
      );
      const results = await Promise.all(
        clients.map(async (s) => {
          let last: { n: number; received: number; thread: number; transport: string } | undefined;
          for (let n = 1; n <= 200; n++) last = await s.timeout(10_000).emitWithAck('msg', n);
          return last!;
        }),
      );
      for (const r of results) expect(r).to.deep.include({ n: 200, received: 200, transport: 'websocket' });
    } finally {
      for (const s of clients) s.close();
    }
  });
});
