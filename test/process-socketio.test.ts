// socket.io across the daemon processes of a process pool (pool.isolation: process): the same
// unmodified chat app as socketio-threads.test.ts (fixtures/socketio/chat.mjs), its clients spread
// over 2 daemon processes. A BroadcastChannel reaches the threads of one process only: each daemon
// process's main thread bridges its pool's channel to hostd over IPC, and hostd relays it to the
// pool's other processes (daemon/process/socketio-bridge.ts), and to no other pool's. When a
// process is killed, hostd tells the survivors which members died with it, so their
// fetchSockets does not wait for them.
import { expect } from 'chai';
import { resolve } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { expectRoomReachesOnly, ioEvent, ioGreeting, quietLog, startHost, type TestHost, waitFor } from './helpers/index.js';

const CHAT = resolve('test/fixtures/socketio/chat.mjs');

interface Client {
  s: Socket;
  /** The daemon process holding its session. */
  pid: number;
  /** Its worker: thread ids are per process, so the pid comes with them. */
  worker: string;
}

interface Count {
  ids: string[];
  rooms: string[];
  error?: string;
}

let h: TestHost;
let log: ReturnType<typeof quietLog>;
const clients: Socket[] = [];

/** A client with socket.io's default transports (sticky by sid), once upgraded to its WebSocket. */
async function connect(mount = ''): Promise<Client> {
  const s = io(`http://127.0.0.1:${h.port}`, { path: `${mount}/socket.io/`, reconnection: false });
  clients.push(s);
  const hello = await ioGreeting<{ thread: number; pid: number }>(s);
  if (s.io.engine.transport.name !== 'websocket') await new Promise((res) => s.io.engine.once('upgrade', res));
  return { s, pid: hello.pid, worker: `${hello.pid}:${hello.thread}` };
}

/**
 * At least `min` clients, with sessions on `workers` workers. A daemon process reports its
 * threads' open sockets to hostd every 100 ms (STATS_MS): until it has, the front sees its
 * threads as empty and gives new sessions the same one, so this connects until the sessions
 * have spread.
 */
async function sessionsOn(min: number, workers: number, mount = ''): Promise<Client[]> {
  const out: Client[] = [];
  const covered = () => new Set(out.map((c) => c.worker)).size === workers;
  await waitFor(async () => out.push(await connect(mount)) >= min && covered(), {
    timeout: 20_000,
    what: `sessions on ${workers} workers`,
  });
  return out;
}

/** sessionsOn, the workers being those of both daemon processes. */
async function spread(min: number, workers: number, mount = ''): Promise<Client[]> {
  const out = await sessionsOn(min, workers, mount);
  expect(new Set(out.map((c) => c.pid)).size, 'sessions in both daemon processes').to.equal(2);
  return out;
}

/** One client in each daemon process. */
const perProcess = (all: Client[]) => [all[0], all.find((c) => c.pid !== all[0].pid)!];

/** What fetchSockets() answers on the worker of `c`. */
const count = (c: Client) => c.s.timeout(20_000).emitWithAck('count') as Promise<Count>;

/** `sender` shouts; every one of `to` hears it. */
async function shout(sender: Client, to: Client[]): Promise<string[]> {
  const text = `from ${sender.s.id}`;
  const heard = Promise.all(to.map((c) => ioEvent<{ text: string }>(c.s, 'shouted', (m) => m.text === text)));
  sender.s.emit('shout', text);
  return (await heard).map((m) => m.text);
}

describe('socket.io in process pools (daemon/process/socketio-bridge.ts)', () => {
  afterEach(() => {
    for (const s of clients.splice(0)) s.close();
  });

  for (const threads of [1, 2]) {
    describe(`socket.io across daemon processes (processes: 2, threads: ${threads})`, function () {
      this.timeout(60_000);
      const workers = 2 * threads;

      before(async () => {
        const apps = [{ url: '/', module: CHAT, pool: { isolation: 'process' as const, processes: 2, threads } }];
        // A second pool of the same app: it must hear nothing of the first.
        if (threads === 1) apps.push({ url: '/other', module: CHAT, pool: { isolation: 'process', processes: 2, threads: 1 } });
        log = quietLog();
        h = await startHost([{ serverName: ['*'], apps }], { errorLog: log });
      });
      after(() => h?.close());

      it('io.emit from a client of either daemon process reaches every client, in both processes', async () => {
        expect((await h.pool('/')).threads, 'processes × threads workers').to.equal(workers);
        const all = await spread(workers + 2, workers);
        for (const sender of perProcess(all)) expect(await shout(sender, all)).to.deep.equal(all.map(() => `from ${sender.s.id}`));
      });

      if (threads === 2)
        it('each client gets a broadcast once: hostd relays a process’s messages to the others, never back to it', async () => {
          const all = await spread(workers + 2, workers);
          const [a, b] = perProcess(all);
          const times = all.map(() => 0);
          all.forEach((c, i) => c.s.on('shouted', (m: { text: string }) => m.text === `from ${a.s.id}` && times[i]++));
          await shout(a, all);
          // b hears a's shout through hostd, which would have sent a copy back to a's process first:
          // b's shout, relayed after it, fences it off.
          await shout(b, all);
          expect(times).to.deep.equal(all.map(() => 1));
        });

      it('io.to(room).emit reaches the room’s members in both processes, and only them', async () => {
        const all = await spread(workers + 2, workers);
        const [a, b] = perProcess(all);
        const others = all.filter((c) => c !== a && c !== b);
        await expectRoomReachesOnly(
          a.s,
          b.s,
          others.map((c) => c.s),
        );
      });

      it('fetchSockets() in either process counts every client, with their rooms', async () => {
        const all = await spread(workers + 2, workers);
        await all[1].s.emitWithAck('join', 'blue');
        const ids = all.map((c) => c.s.id!).sort();
        for (const c of perProcess(all)) {
          const got = await count(c);
          expect(got.error).to.equal(undefined);
          expect(got.ids).to.deep.equal(ids);
          expect(got.rooms).to.deep.equal(['blue']);
        }
      });

      it('binary data, socketsJoin, disconnectSockets and serverSideEmit reach the other process', async () => {
        const all = await spread(workers + 2, workers);
        const [a, b] = perProcess(all);
        const bytes = Promise.all(all.map((c) => ioEvent<Buffer>(c.s, 'bytes')));
        a.s.emit('bytes');
        for (const got of await bytes) expect([...new Uint8Array(got)]).to.deep.equal([1, 2, 3, 250]);
        await a.s.emitWithAck('pull', b.s.id, 'green'); // b's session lives in the other process
        const heard = ioEvent<{ room: string; text: string }>(b.s, 'said', (m) => m.room === 'green');
        a.s.emit('say', 'green', 'pulled in');
        expect((await heard).text).to.equal('pulled in');
        // Every other worker answers, those of a's process and those of the other.
        const answer = (await a.s.timeout(20_000).emitWithAck('workers')) as { error?: string; threads: number[] };
        expect(answer.error).to.equal(undefined);
        expect(answer.threads).to.have.length(workers - 1);
        const gone = ioEvent<string>(b.s, 'disconnect');
        a.s.emit('kick', b.s.id);
        expect(await gone).to.equal('io server disconnect');
      });

      if (threads === 2)
        it('data that cannot cross to the other process reaches this process’s clients; the warning is logged once, the process serves on', async () => {
          const all = await spread(workers + 2, workers);
          const [a] = perProcess(all);
          const local = all.filter((c) => c.pid === a.pid);
          const got = Promise.all(local.map((c) => ioEvent<{ n: number }>(c.s, 'shared')));
          a.s.emit('shared');
          a.s.emit('shared');
          for (const m of await got) expect(m.n).to.equal(2);
          // The bridge would have crashed its process: every client, both processes, still hears a shout.
          expect(await shout(a, all)).to.have.length(all.length);
          const warned = await waitFor(
            () => {
              const lines = log.lines.filter((l) => l.includes('could not be copied to the pool'));
              return lines.length > 0 && lines;
            },
            { what: 'the warning' },
          );
          expect(warned).to.have.length(1);
          expect(warned[0]).to.match(/^warn .*only the clients of daemon process \d+ got it/);
        });

      if (threads === 1)
        it('another pool’s processes are not bridged: each pool counts its own clients only', async () => {
          const mine = await spread(2, 2);
          const theirs = await spread(2, 2, '/other');
          for (const [pool, c] of [
            [mine, mine[0]],
            [theirs, theirs[0]],
          ] as const) {
            const got = await count(c);
            expect(got.error).to.equal(undefined);
            expect(got.ids).to.deep.equal(pool.map((x) => x.s.id!).sort());
          }
        });

      it('after a daemon process is killed (SIGKILL), the survivors are told at once: fetchSockets and io.emit work without it', async () => {
        const all = await spread(workers + 2, workers);
        const victim = all[0].pid;
        const dead = all.filter((c) => c.pid === victim);
        const survivors = all.filter((c) => c.pid !== victim);
        const cut = Promise.all(dead.map((c) => ioEvent(c.s, 'disconnect')));
        process.kill(victim, 'SIGKILL');
        await cut;
        // Had the survivors not been told, fetchSockets would wait for the dead members' answers
        // (socket.io's 5 s request timeout, well before its 10 s heartbeat timeout forgets them) and fail.
        const got = await count(survivors[0]);
        expect(got.error).to.equal(undefined);
        expect(got.ids).to.deep.equal(survivors.map((c) => c.s.id!).sort());
        expect(await shout(survivors[0], survivors)).to.have.length(survivors.length);
        // The process that replaces the killed one joins the bridge: its clients and the survivors hear each other.
        await waitFor(async () => (await h.pool('/')).threads === workers, { timeout: 30_000, what: 'the replacement threads' });
        const later: Client[] = [];
        const fresh = () => later.filter((c) => c.pid !== survivors[0].pid);
        await waitFor(async () => later.push(await connect()) && fresh().length === threads, {
          timeout: 20_000,
          what: 'sessions in the new process',
        });
        const everyone = [...survivors, ...later];
        expect(await shout(fresh()[0], everyone)).to.have.length(everyone.length);
        expect(await shout(survivors[0], everyone)).to.have.length(everyone.length);
        expect((await count(fresh()[0])).ids).to.deep.equal(everyone.map((c) => c.s.id!).sort());
      });
    });
  }

  describe('socket.io across the reload of a process pool (processes: 1)', function () {
    this.timeout(60_000);
    before(async () => {
      h = await startHost([
        { serverName: ['*'], apps: [{ url: '/', module: CHAT, pool: { isolation: 'process', processes: 1, threads: 1 } }] },
      ]);
    });
    after(() => h?.close());

    it('clients of the old and the new daemon process hear each other until the old one has drained', async () => {
      // Alone, the process sends hostd nothing; the reload's new process is its peer until it ends.
      const old = await connect();
      await h.host.reload(); // the old process keeps its open sockets, a new one serves new sessions
      const fresh = await connect();
      expect(fresh.pid, 'a new daemon process').to.not.equal(old.pid);
      for (const sender of [old, fresh]) expect(await shout(sender, [old, fresh])).to.have.length(2);
      // The new process's member is heard from its first heartbeat: fetchSockets counts both sides.
      const ids = [old.s.id!, fresh.s.id!].sort();
      await waitFor(async () => (await count(fresh)).ids.join() === ids.join(), { what: 'fetchSockets in the new process to count 2' });
      expect((await count(old)).ids).to.deep.equal(ids);
      // The old client leaves: its process drains and ends, and the new one's fetchSockets answers
      // at once with the client left (rather than wait for the ended member and fail).
      old.s.close();
      await waitFor(async () => (await h.pool('/')).threads === 1, { timeout: 30_000, what: 'the old thread to end' });
      const left = await count(fresh);
      expect(left.error).to.equal(undefined);
      expect(left.ids).to.deep.equal([fresh.s.id!]);
    });
  });

  describe('the size of a process pool: threads and minThreads count per process', function () {
    this.timeout(60_000);
    before(async () => {
      const pool = { isolation: 'process' as const, processes: 2, threads: 2, minThreads: 1, idleTimeout: '300ms' };
      h = await startHost([{ serverName: ['*'], apps: [{ url: '/', module: CHAT, pool }] }]);
    });
    after(() => h?.close());

    it('idle reaping leaves processes × minThreads (2) threads, both serving', async () => {
      // All 4 go idle together, so one sweep retires all it may: to 2, or to 1 were minThreads per pool.
      await waitFor(async () => (await h.pool('/')).threads === 2, { what: 'the idle threads to be reaped' });
      // Retiring threads take no new session: two workers holding sessions are two that were kept.
      await sessionsOn(2, 2);
      expect((await h.pool('/')).threads).to.equal(2);
    });
  });
});
