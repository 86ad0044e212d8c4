// WebSockets of fetch apps (Bun's shape): upgrades routed like requests to the app's pool, the
// app accepting with per-connection data or refusing with an ordinary response, messages both
// ways, pub/sub fanned out by the front across workers and scoped per mount, what send() returns
// under backpressure, and the socket's access-log line, /status and /metrics — all over real
// sockets with the `ws` client.
import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { renderMetrics } from '../native-front/control/report.js';
import { startHost, type TestHost } from './helpers/host.js';
import { type Client, OpenClients, refused, startsWith } from './helpers/ws.js';
import { parsePrometheus, waitFor } from './helpers/index.js';

const CHAT = resolve('test/fixtures/ws/chat.mjs');
const PUBLIC = resolve('test/fixtures/ws/public');

const hello = async (c: Client) =>
  JSON.parse((await c.next(startsWith('{"hello"'))) as string) as { hello: string; thread: number; address: string };

describe('websockets: fetch apps', function () {
  this.timeout(30_000);
  let h: TestHost;
  let logDir: string;
  const open = new OpenClients();
  const ws = (path: string) => `ws://127.0.0.1:${h.port}${path}`;
  const client = (path: string) => open.connect(ws(path));

  before(async () => {
    logDir = await mkdtemp(join(tmpdir(), 'hostd-ws-log-'));
    h = await startHost(
      [
        {
          serverName: ['*'],
          static: [{ url: '/static', dir: PUBLIC }],
          apps: [
            { url: '/chat', module: CHAT, pool: { threads: 2 } },
            { url: '/other', module: CHAT, pool: { threads: 1 } },
            { url: '/slow', module: CHAT, pool: { threads: 1 }, websocket: { maxBackpressure: '64mb' } },
          ],
        },
      ],
      { accessLog: join(logDir, 'access.log'), logFormat: 'json' },
    );
  });
  afterEach(() => {
    open.terminateAll();
  });
  after(async () => {
    await h?.close();
    if (logDir) await rm(logDir, { recursive: true, force: true });
  });

  it('accepts with per-connection data and echoes text and binary; the app refuses with its own 401', async () => {
    const c = await client('/chat/room?user=zoe');
    const hi = await hello(c);
    expect(hi.hello).to.equal('zoe');
    expect(hi.address).to.equal('127.0.0.1');
    c.send('echo hello there');
    expect(await c.next()).to.equal('hello there');
    c.send(Buffer.from([0, 1, 2, 255]));
    expect([...((await c.next((m) => Buffer.isBuffer(m))) as Buffer)]).to.deep.equal([0, 1, 2, 255]);
    const no = await refused(ws('/chat/room?token=bad'));
    expect(no.status).to.equal(401);
    expect(no.body).to.equal('no entry\n');
  });

  it('sends the headers the app gave ctx.upgrade() with the 101, and the subprotocol the client offered first', async () => {
    const c = await open.connect(ws('/chat/x?cookie=1'), { protocols: ['v2.chat', 'v1.chat'] });
    expect(c.ws.protocol).to.equal('v2.chat');
    await hello(c);
    const headers = await new Promise<Record<string, unknown>>((res, rej) => {
      const w = new (c.ws.constructor as typeof import('ws').WebSocket)(ws('/chat/x?cookie=1'));
      w.on('upgrade', (r) => res(r.headers));
      w.on('open', () => w.close());
      w.on('error', rej);
    });
    expect(headers['set-cookie']).to.deep.equal(['ws=1']);
  });

  it('fans a publish out to subscribers on both workers, leaving the sender out; ctx.publish reaches everyone', async () => {
    const clients: Client[] = [];
    const threads = new Set<number>();
    for (let i = 0; i < 4; i++) {
      const c = await client(`/chat/room?user=u${i}`);
      threads.add((await hello(c)).thread);
      clients.push(c);
    }
    expect(threads.size, 'sockets spread over both workers').to.equal(2);
    clients[0].send('pub good morning');
    for (const c of clients.slice(1)) expect(await c.next(startsWith('u0:'))).to.equal('u0: good morning');
    // From an HTTP request of the same app: all four, whichever worker serves it.
    const res = await request(`http://127.0.0.1:${h.port}/chat/broadcast?topic=room&text=attention`);
    expect(Number(await res.body.text())).to.be.above(0);
    for (const c of clients) expect(await c.next((m) => m === 'attention')).to.equal('attention');
    // The sender got its own message only from the broadcast, never from its publish.
    expect(clients[0].messages.filter((m) => m === 'u0: good morning')).to.have.length(0);
    // A socket subscribed to nothing can still publish (uWS's own ws.publish would drop it).
    clients[1].send('unsub room');
    clients[1].send('pub from outside');
    for (const c of [clients[0], clients[2], clients[3]]) expect(await c.next(startsWith('u1:'))).to.equal('u1: from outside');
  });

  it('scopes topics per mount: another app using the same topic name sees nothing', async () => {
    const here = await client('/chat/a?user=here');
    const there = await client('/other/a?user=there');
    await hello(here);
    await hello(there);
    here.send('pub only for this mount');
    // Messages of one socket are handled in order and answered through the same port: once the
    // echo is back, that publish has fanned out, before `peer` subscribes.
    here.send('echo marker');
    await here.next((m) => m === 'marker');
    const peer = await client('/chat/b?user=peer');
    await hello(peer);
    here.send('pub second');
    expect(await peer.next(startsWith('here:'))).to.equal('here: second');
    // `there` shares the topic name "room" on another mount: a round trip on it proves it got nothing.
    there.send('echo marker');
    await there.next((m) => m === 'marker');
    expect(there.messages.filter((m) => typeof m === 'string' && m.startsWith('here:'))).to.have.length(0);
  });

  it('answers an upgrade to a static mount or an unknown path as the GET would be answered', async () => {
    const file = await refused(ws('/static/index.html'));
    expect(file.status).to.equal(200);
    expect(file.body).to.contain('static file');
    expect((await refused(ws('/nothing-here'))).status).to.equal(404);
    expect((await refused(`ws://127.0.0.1:${h.port}/chat/x`, { headers: { host: 'bad host!' } })).status).to.equal(400);
  });

  it('send() says -1 (never 0) while the client is behind; drain() resumes the app once it catches up', async () => {
    const c = await client('/slow/x');
    await hello(c);
    const sock = (c.ws as unknown as { _socket: import('node:net').Socket })._socket;
    sock.pause(); // stop reading: the kernel's buffers fill, then the front's backlog grows
    const chunks = 512; // 32 MiB: far more than the socket buffers hold
    c.send(`flood ${chunks}`);
    type Flood = { target: number; sent: number; seen: Record<string, number>; drains: number };
    let f: Flood | null = null;
    await waitFor(
      async () => {
        f = ((await (await request(`http://127.0.0.1:${h.port}/slow/state`)).body.json()) as { flood: Flood | null }).flood;
        return f !== null && (f.seen['-1'] ?? 0) > 0 && f.sent > 64;
      },
      { timeout: 15_000, what: 'send() to return -1' },
    );
    // Held back: the client reads nothing, so the app cannot have sent everything.
    expect(f!.sent).to.be.below(chunks);
    sock.resume();
    const done = JSON.parse(((await c.next(startsWith('done '), 30_000)) as string).slice(5)) as Flood;
    expect(done.sent).to.equal(chunks);
    expect(done.seen['0'] ?? 0, 'never "dropped"').to.equal(0);
    expect(done.seen['-1']).to.be.at.least(1);
    expect(done.seen[String(64 * 1024)]).to.be.at.least(1);
    expect(done.drains).to.be.at.least(1);
    expect(c.messages.filter((m) => typeof m === 'string' && m.length === 64 * 1024)).to.have.length(chunks);
  });

  it('send() returns 0 once the socket is closing; the client gets the app’s close code and reason', async () => {
    const c = await client('/other/x');
    await hello(c);
    c.send('close 4000');
    expect(await c.closed).to.deep.equal({ code: 4000, reason: 'bye' });
    const state = (await (await request(`http://127.0.0.1:${h.port}/other/state`)).body.json()) as {
      afterClose: { send: number; readyState: number };
    };
    expect(state.afterClose).to.deep.equal({ send: 0, readyState: 2 });
    await waitFor(
      async () => {
        const s = (await (await request(`http://127.0.0.1:${h.port}/other/state`)).body.json()) as { closes: { code: number }[] };
        return s.closes.some((x) => x.code === 4000);
      },
      { timeout: 5000, what: 'the app’s close handler to run with 4000' },
    );
  });

  it('counts sockets, upgrades, messages and closes per mount in /status and /metrics, and logs one line per socket', async () => {
    const c = await client('/other/x?user=counted');
    await hello(c);
    c.send('echo one');
    await c.next((m) => m === 'one');
    c.close(4321, 'done');
    await c.closed;
    let ws:
      | { open: number; upgrades: number; messagesIn: number; bytesIn: number; messagesOut: number; closes: Record<string, number> }
      | undefined;
    await waitFor(
      async () => {
        const s = await h.host.status();
        ws = (s.hosts[0].mounts.find((m) => m.url === '/other') as { websocket?: typeof ws }).websocket;
        return ws !== undefined && (ws.closes['4321'] ?? 0) >= 1;
      },
      { timeout: 5000, what: 'the close to be counted' },
    );
    expect(ws!.upgrades).to.be.at.least(1);
    expect(ws!.messagesIn).to.be.at.least(1);
    expect(ws!.bytesIn).to.be.at.least('echo one'.length);
    expect(ws!.messagesOut).to.be.at.least(2);
    const metrics = parsePrometheus(renderMetrics(await h.host.status()));
    expect(metrics.types.hostd_websockets_open).to.equal('gauge');
    const closes = metrics.samples.find(
      (s) => s.name === 'hostd_websocket_closes_total' && s.labels.mount === '/other' && s.labels.code === '4321',
    );
    expect(closes?.value).to.be.at.least(1);
    const inMsgs = metrics.samples.find(
      (s) => s.name === 'hostd_websocket_messages_total' && s.labels.mount === '/other' && s.labels.direction === 'in',
    );
    expect(inMsgs?.value).to.be.at.least(1);
    let line: Record<string, unknown> | undefined;
    await waitFor(
      async () => {
        const text = await readFile(join(logDir, 'access.log'), 'utf8').catch(() => '');
        line = text
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find((l) => l.path === '/other/x?user=counted' && l.status === 101);
        return line !== undefined;
      },
      { timeout: 5000, what: 'the socket’s access-log line' },
    );
    expect(line!.websocket).to.deep.include({ close_code: 4321, messages_in: 1 });
    expect((line!.websocket as { messages_out: number }).messages_out).to.equal(2);
    expect(line!.duration_ms).to.be.a('number');
  });
});
