// A daemon process's main thread (pool.isolation: process): spawned by hostd's control thread as
// the pool's user (daemon-process.ts), it runs the same worker threads as a thread pool (piscina, the
// same daemon/worker/entry.ts and serve task; each thread listens for the fronts on a socket of its
// own: front-sockets.ts), writes the fronts' address answers where its threads wait for them
// (address-desk.ts), and relays the threads' control ports and its memory over IPC. It never runs
// app code itself, and exits when hostd goes away (the IPC channel closes).
import { chmodSync, rmSync } from 'node:fs';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { ADDRESS_BUFFER_BYTES } from '../../shared/protocol/address-query.js';
import { Board, boardBytes } from '../../shared/protocol/board.js';
import { decodeToControl, type ControlHandlers, type ServeTask } from '../../shared/protocol/index.js';
import { errorText } from '../../shared/errors.js';
import { STATS_MS, type FromProcess, type ProcessCheck, type ProcessInit, type ToProcess } from '../../shared/protocol/process-ipc.js';
import { AddressDesk } from './address-desk.js';
import { bridgeSocketIo } from './socketio-bridge.js';
import { stopThread } from './stop-thread.js';

interface Thread {
  control: MessagePort;
  socket: string;
  /** Ends the thread's task while it has no thread id yet (still loading the app): piscina terminates it. */
  abort: AbortController;
  board: Board;
  threadId: number;
}

const send = (m: FromProcess): void => {
  // (hostd gone mid-send: the error goes to the callback; 'disconnect' ends this process)
  if (process.connected) process.send!(m, undefined, {}, () => {});
};

function start(init: ProcessInit): void {
  process.umask(init.umask);
  const piscina = new Piscina({
    filename: init.workerFile,
    minThreads: 0,
    maxThreads: init.maxThreads,
    concurrentTasksPerWorker: 1,
    idleTimeout: 1000,
    atomics: 'disabled',
    env: init.env,
  });
  piscina.on('error', () => {}); // a thread's death is reported per task below
  const desk = new AddressDesk();
  const threads = new Map<number, Thread>();
  bridgeSocketIo(init.group, send); // before any thread starts: their first heartbeats must cross

  const spawnThread = (key: number, socket: string): void => {
    const control = new MessageChannel();
    const board = new Board(new SharedArrayBuffer(boardBytes(init.fronts)));
    const addresses = Array.from({ length: init.fronts }, () => new SharedArrayBuffer(ADDRESS_BUFFER_BYTES));
    const t: Thread = { control: control.port1, socket, abort: new AbortController(), board, threadId: -1 };
    threads.set(key, t);
    desk.addThread(key, addresses);
    // The ready report names the thread piscina runs it on (for terminate); everything goes on to hostd.
    const watch: ControlHandlers = { ready: (threadId) => (t.threadId = threadId), log: () => {} };
    control.port1.on('message', (batch: unknown[]) => {
      decodeToControl(batch, watch);
      send({ t: 'ctl', key, batch });
    });
    const task: ServeTask = {
      kind: 'serve',
      control: control.port2,
      links: [],
      board: board.buffer,
      addresses,
      modulePath: init.modulePath,
      interface: init.interface,
      mount: init.mount,
      stripPrefix: init.stripPrefix,
      compression: init.compression,
      env: init.env,
      cacheDir: init.cacheDir,
      entry: init.entry,
      cwd: init.cwd,
      group: init.group,
      key,
      daemonProcess: { hostPid: init.hostPid, sameUser: init.sameUser, socket, fronts: init.fronts },
    };
    const ended = (err: unknown) => {
      if (!threads.has(key)) return; // terminated on purpose: hostd knows
      forget(key);
      send({ t: 'died', key, error: errorText(err), code: (err as { code?: string } | null)?.code });
    };
    piscina
      .run(task, { transferList: [control.port2] as never, signal: t.abort.signal })
      .then(() => ended(new Error('the worker serve task returned')), ended);
  };

  const forget = (key: number): Thread | undefined => {
    const t = threads.get(key);
    threads.delete(key);
    desk.removeThread(key);
    if (t !== undefined) {
      t.control.close();
      rmSync(t.socket, { force: true });
    }
    return t;
  };

  process.on('message', (m: ToProcess) => {
    switch (m.t) {
      case 'thread':
        return spawnThread(m.key, m.socket);
      case 'ctl': {
        const t = threads.get(m.key);
        if (t === undefined) return;
        if (m.served !== undefined) t.board.mirrorServed(m.served);
        t.control.postMessage(m.batch);
        return;
      }
      case 'terminate': {
        const t = forget(m.key);
        if (t === undefined) return;
        if (t.threadId < 0) return t.abort.abort(); // still loading: no Worker to watch, piscina ends it
        const stuck = () => send({ t: 'stuck', key: m.key, threadId: t.threadId });
        for (const w of piscina.threads) if (w.threadId === t.threadId) stopThread(w, stuck);
        return;
      }
    }
  });

  setInterval(() => {
    const list: Array<[number, number]> = [];
    for (const [key, t] of threads) list.push([key, t.board.memory]);
    send({ t: 'stats', rss: process.memoryUsage.rss(), threads: list });
  }, STATS_MS).unref();

  // Owner-only socket in the process's own 0700 folder: hostd (root, or the same user) reaches it.
  process.umask(0o177);
  desk.server.listen(init.socket, () => {
    process.umask(init.umask);
    chmodSync(init.socket, 0o600);
    send({ t: 'listening' });
  });
}

/** `hostd check`: one thread loads the app, the answer goes back, the process ends. */
async function check(m: ProcessCheck): Promise<void> {
  process.umask(m.umask);
  const piscina = new Piscina({ filename: m.workerFile, minThreads: 0, maxThreads: 1, atomics: 'disabled', env: m.env });
  let result: FromProcess;
  try {
    result = { t: 'checked', result: (await piscina.run(m.task)) as Extract<FromProcess, { t: 'checked' }>['result'] };
  } catch (err) {
    result = { t: 'checked', result: { ok: false, error: `the app's worker died while loading it: ${errorText(err)}`, output: [] } };
  }
  process.send!(result, () => process.exit(0));
}

// hostd went away (even killed): nothing is left to serve, and an orphan must not linger.
process.on('disconnect', () => process.exit(0));
process.once('message', (m: ToProcess) => {
  if (m.t === 'init') start(m);
  else if (m.t === 'check') void check(m);
});
