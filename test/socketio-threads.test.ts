// socket.io across a pool's threads and across a reload: an unmodified socket.io app
// (fixtures/socketio/chat.mjs) on a 2-thread pool, its clients spread over both workers. io.emit,
// io.to(room).emit and fetchSockets must reach every client, through the adapter hostd installs
// (daemon/app/socketio); during a reload, the clients of the old workers and of the new ones still
// hear each other, and once the old workers have ended their peers stop waiting for them.
import { expect } from 'chai';
import { resolve } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { quietLog, startHost, type TestHost } from './helpers/host.js';
import { expectRoomReachesOnly, ioEvent, ioGreeting, waitFor } from './helpers/index.js';

const CHAT = resolve('test/fixtures/socketio/chat.mjs');

interface Client {
  s: Socket;
  /** The worker thread holding its session. */
  thread: number;
}

interface Count {
  ids: string[];
  rooms: string[];
  error?: string;
}

describe('socket.io across threads and reloads (hostd’s adapter)', function () {
  this.timeout(60_000);
  let h: TestHost;
  let log: ReturnType<typeof quietLog>;
  const clients: Socket[] = [];

  /** A client with socket.io's default transports, once upgraded to its WebSocket. */
  async function connect(): Promise<Client> {
    const s = io(`http://127.0.0.1:${h.port}`, { reconnection: false });
    clients.push(s);
    const hello = await ioGreeting<{ thread: number }>(s);
    if (s.io.engine.transport.name !== 'websocket') await new Promise((res) => s.io.engine.once('upgrade', res));
    return { s, thread: hello.thread };
  }

  /** `n` clients, at least one on each of `threads` workers (the front spreads sessions). */
  async function spread(n: number, threads: number): Promise<Client[]> {
    const out: Client[] = [];
    for (let i = 0; i < n; i++) out.push(await connect());
    expect(new Set(out.map((c) => c.thread)).size, 'sessions on every worker').to.equal(threads);
    return out;
  }

  /** What fetchSockets() answers on the worker of `c`. */
  const count = (c: Client) => c.s.timeout(20_000).emitWithAck('count') as Promise<Count>;

  /** The chat app on a pool of `threads` (explicit: the default number of threads is not this suite's business). */
  async function start(threads = 2, module = CHAT, fronts = 1): Promise<void> {
    log = quietLog();
    h = await startHost([{ serverName: ['*'], apps: [{ url: '/', module, pool: { threads } }] }], { errorLog: log, fronts });
  }

  afterEach(async () => {
    for (const s of clients.splice(0)) s.close();
    await h?.close();
  });

  for (const [kind, module, fronts] of [
    ['', CHAT, 1],
    [' (a CommonJS app)', resolve('test/fixtures/socketio/chat.cjs'), 1],
    [' (2 front threads)', CHAT, 2],
  ] as const)
    it(`io.emit from a client of either worker reaches all 4 clients, on both workers${kind}`, async () => {
      await start(2, module, fronts);
      const all = await spread(4, 2);
      for (const sender of [all.find((c) => c.thread === all[0].thread)!, all.find((c) => c.thread !== all[0].thread)!]) {
        const text = `from ${sender.s.id}`;
        const heard = Promise.all(all.map((c) => ioEvent<{ text: string }>(c.s, 'shouted', (m) => m.text === text)));
        sender.s.emit('shout', text);
        const got = await heard;
        expect(got.map((m) => m.text)).to.deep.equal([text, text, text, text]);
      }
    });

  it('io.to(room).emit reaches the room’s members on both workers, and only them', async () => {
    await start();
    const all = await spread(4, 2);
    const a = all[0];
    const b = all.find((c) => c.thread !== a.thread)!;
    const others = all.filter((c) => c !== a && c !== b);
    await expectRoomReachesOnly(
      a.s,
      b.s,
      others.map((c) => c.s),
    );
  });

  it('fetchSockets() on either worker counts all 4 clients, with their rooms', async () => {
    await start();
    const all = await spread(4, 2);
    await all[1].s.emitWithAck('join', 'blue');
    const ids = all.map((c) => c.s.id!).sort();
    for (const c of [all[0], all.find((x) => x.thread !== all[0].thread)!]) {
      const got = await count(c);
      expect(got.ids).to.deep.equal(ids);
      expect(got.rooms).to.deep.equal(['blue']);
    }
  });

  it('binary data broadcast on one worker reaches the clients of the other as binary', async () => {
    await start();
    const all = await spread(4, 2);
    const got = Promise.all(all.map((c) => ioEvent<Buffer>(c.s, 'bytes')));
    all[0].s.emit('bytes');
    for (const b of await got) expect([...new Uint8Array(b)]).to.deep.equal([1, 2, 3, 250]);
  });

  it('socketsJoin and disconnectSockets reach a socket on the other worker; serverSideEmit gets the other worker’s answer', async () => {
    await start();
    const all = await spread(4, 2);
    const a = all[0];
    const b = all.find((c) => c.thread !== a.thread)!;
    await a.s.emitWithAck('pull', b.s.id, 'green'); // b's session lives on the other worker
    const heard = ioEvent<{ room: string; text: string }>(b.s, 'said', (m) => m.room === 'green');
    a.s.emit('say', 'green', 'pulled in');
    expect((await heard).text).to.equal('pulled in');
    expect((await count(a)).rooms).to.deep.equal(['green']);
    const answer = (await a.s.timeout(20_000).emitWithAck('workers')) as { error?: string; threads: number[] };
    expect(answer).to.deep.equal({ threads: [b.thread] });
    const gone = ioEvent<string>(b.s, 'disconnect');
    a.s.emit('kick', b.s.id);
    expect(await gone).to.equal('io server disconnect');
  });

  it('logs one notice per worker; data that cannot be copied to the other worker is warned about once, its own clients still get it', async () => {
    await start();
    const all = await spread(4, 2);
    const notices = log.lines.filter((l) => l.includes('reach every worker of this pool'));
    expect(notices.length, notices.join('\n')).to.equal(2);
    const local = all.filter((c) => c.thread === all[0].thread);
    const got = Promise.all(local.map((c) => ioEvent<{ n: number }>(c.s, 'odd')));
    all[0].s.emit('odd');
    all[0].s.emit('odd');
    for (const m of await got) expect(m).to.deep.equal({ n: 1 });
    // (An empty array is truthy: wait for a line, not for the filter.)
    const warned = await waitFor(
      () => {
        const lines = log.lines.filter((l) => l.includes('could not be copied'));
        return lines.length > 0 && lines;
      },
      { what: 'the warning' },
    );
    expect(warned).to.have.length(1);
    expect(warned[0]).to.match(/^warn .*only this worker's clients got it/);
  });

  for (const threads of [2, 1]) {
    it(`a reload at threads: ${threads}: clients of the old and the new workers hear each other until the old ones have drained`, async () => {
      await start(threads);
      const old = await spread(2, threads);
      await h.host.reload(); // rolls the pool: the old workers keep their open sockets, new ones start
      const fresh = await spread(2, threads);
      for (const c of fresh)
        expect(
          old.map((o) => o.thread),
          'a new worker',
        ).to.not.include(c.thread);
      const all = [...old, ...fresh];

      for (const sender of [old[0], fresh[0]]) {
        const text = `from ${sender.thread}`;
        const heard = Promise.all(all.map((c) => ioEvent<{ text: string }>(c.s, 'shouted', (m) => m.text === text)));
        sender.s.emit('shout', text);
        expect((await heard).length).to.equal(4);
      }
      // The new workers learn of the old ones by their heartbeats: all four, asked from either side.
      const ids = all.map((c) => c.s.id!).sort();
      await waitFor(async () => (await count(fresh[0])).ids.join() === ids.join(), { what: 'fetchSockets on a new worker to count 4' });
      expect((await count(old[0])).ids).to.deep.equal(ids);

      // The old clients leave: their workers drain and end. The pool says so, and the new workers'
      // fetchSockets answers at once with the two left (rather than wait for the ended ones and fail).
      for (const c of old) c.s.close();
      await waitFor(async () => (await h.pool('/')).threads === threads, { timeout: 30_000, what: 'the old workers to end' });
      const left = await count(fresh[0]);
      expect(left.error).to.equal(undefined);
      expect(left.ids).to.deep.equal(fresh.map((c) => c.s.id!).sort());
    });
  }
});
