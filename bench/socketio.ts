// npm run bench:socketio — what hostd's socket.io adapter (daemon/app/socketio) costs and carries:
// a client asks its worker for N io.emit broadcasts in a row; the figures are how long until every
// client that should get them has them all (broadcasts per second delivered to each client), and
// the CPU time per broadcast of this script's process and its children (host threads, daemon
// processes and the clients together: this script runs the host in-process, so CPU time is the
// figure a busy machine disturbs least).
// Compared: threads 1 and 2 with hostd's adapter, against the app's own in-memory adapter
// (LOCAL_ADAPTER=1: broadcasts stay in the worker, what socket.io does without hostd's), and a
// process pool of 1 daemon process × 2 threads (which has no one to send its broadcasts to) and of
// 2 × 1 (each broadcast crosses to the other process through hostd: daemon/process/socketio-bridge.ts).
//
//   npm run bench:socketio [-- --clients 4 --broadcasts 5000 --rounds 3 --only processes]
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { io, type Socket } from 'socket.io-client';
import { createHost } from '../index.js';
import { STATS_MS } from '../shared/protocol/process-ipc.js';
import { treeCpuSeconds } from './process-pools.js';

const { values: opts } = parseArgs({
  options: {
    clients: { type: 'string', default: '4' },
    broadcasts: { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '3' },
    /** Only the cases whose name contains this. */
    only: { type: 'string', default: '' },
  },
});
const clients = Number(opts.clients);
const broadcasts = Number(opts.broadcasts);
const rounds = Number(opts.rounds);
const APP = resolve('bench/apps/socketio-emit.mjs');

interface Case {
  name: string;
  threads: number;
  local: boolean;
  /** A process pool of this many daemon processes (of `threads` each). */
  processes?: number;
}

const CASES: Case[] = [
  { name: "threads 1, socket.io's in-memory adapter", threads: 1, local: true },
  { name: "threads 1, hostd's adapter", threads: 1, local: false },
  { name: "threads 2, socket.io's in-memory adapter (same-worker clients only)", threads: 2, local: true },
  { name: "threads 2, hostd's adapter (every client)", threads: 2, local: false },
  { name: "processes 1 × threads 2, hostd's adapter (every client)", threads: 2, local: false, processes: 1 },
  { name: "processes 2 × threads 1, hostd's adapter (every client)", threads: 1, local: false, processes: 2 },
];

/** A client on a WebSocket, and the worker that holds it (pid:threadId). */
async function connect(port: number): Promise<{ s: Socket; thread: string }> {
  const s = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false });
  await new Promise<void>((res, rej) => {
    s.once('connect', () => res());
    s.once('connect_error', rej);
  });
  return { s, thread: (await s.emitWithAck('thread')) as string };
}

/** Milliseconds until each of `receivers` has `n` ticks, after `sender` asks for them. */
function burst(sender: Socket, receivers: Socket[], n: number): Promise<number> {
  const start = performance.now();
  return new Promise((res) => {
    let done = 0;
    for (const r of receivers) {
      let got = 0;
      const on = () => {
        if (++got < n) return;
        r.off('tick', on);
        if (++done === receivers.length) res(performance.now() - start);
      };
      r.on('tick', on);
    }
    sender.emit('burst', n);
  });
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

async function run(c: Case): Promise<string> {
  const quiet = { info() {}, warn() {}, error() {} };
  const host = await createHost({
    accessLog: false,
    errorLog: quiet,
    fronts: 1,
    sites: [
      {
        listen: 0,
        serverName: ['*'],
        apps: [
          {
            url: '/',
            module: APP,
            pool: {
              threads: c.threads,
              env: c.local ? { LOCAL_ADAPTER: '1' } : {},
              ...(c.processes ? { isolation: 'process' as const, processes: c.processes } : {}),
            },
          },
        ],
      },
    ],
  });
  await host.listen();
  await host.ready();
  const port = host.addresses[0].port;
  const socks: { s: Socket; thread: string }[] = [];
  try {
    for (let i = 0; i < clients; i++) {
      socks.push(await connect(port));
      // A daemon process reports its threads' sockets to hostd every STATS_MS: until then the
      // front sees them as empty, and the next client would go to the same thread.
      if (c.processes) await sleep(2 * STATS_MS);
    }
    const sender = socks[0];
    // Who gets the sender's broadcasts: every client, or with socket.io's in-memory adapter those
    // on the sender's worker.
    const receivers = socks.filter((x) => !c.local || x.thread === sender.thread).map((x) => x.s);
    await burst(sender.s, receivers, 500); // warm-up
    const times: number[] = [];
    const cpus: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const cpu = treeCpuSeconds(process.pid);
      times.push(await burst(sender.s, receivers, broadcasts));
      cpus.push(((treeCpuSeconds(process.pid) - cpu) * 1e6) / broadcasts);
    }
    const ms = median(times);
    return (
      `${c.name.padEnd(72)} ${String(receivers.length).padStart(2)} clients on ${new Set(socks.map((x) => x.thread)).size} workers  ` +
      `${String(Math.round((broadcasts / ms) * 1000)).padStart(6)} broadcasts/s  ${median(cpus).toFixed(0).padStart(4)} µs CPU each (median of ${rounds})`
    );
  } finally {
    for (const x of socks) x.s.close();
    await host.close();
  }
}

for (const c of CASES) if (c.name.includes(opts.only)) console.log(await run(c));
