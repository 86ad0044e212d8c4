// One daemon process as hostd's control thread sees it: spawned as the pool's user and group
// (child_process uid/gid), in its own session (its process group is not hostd's), with the app's
// working directory, a 0700 socket folder of its own, and the pool's environment; its IPC channel
// carries the threads' control batches and its stats. The worker threads it holds are PoolWorkers
// like a thread pool's: their boards stay in hostd (the fronts claim and count on them), and
// what only the process knows (memory) is copied in from its stats.
import { type ChildProcess, spawn } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { decodeToWorkerControl, type WorkerControlHandlers } from '../../shared/protocol/index.js';
import type { PoolWorker } from './worker.js';
import type { ThreadSockets } from '../dispatch/process-socket.js';
import type { FromProcess, ProcessInit, ToProcess } from '../../shared/protocol/process-ipc.js';

/** How the control thread hears a process (process-group.ts). */
export interface ProcessEvents {
  /** Thread `w` ended inside the process (uncaught error, exit, out of memory). */
  threadDied(w: PoolWorker, err: Error): void;
  /** Worker `key` (piscina's `threadId` in the process), told to terminate, did not exit: blocked in native code. */
  threadStuck(p: DaemonProcess, key: number, threadId: number): void;
  /** The process is gone; `why` says how, null when hostd ended it. */
  exited(p: DaemonProcess, why: string | null): void;
  /** Its resident memory, every STATS_MS. */
  rss(p: DaemonProcess, bytes: number): void;
  /** Messages its threads posted on the pool's socket.io channel (daemon/process/socketio-bridge.ts). */
  socketIo(p: DaemonProcess, batch: Uint8Array): void;
  /** A socket.io message of its threads could not cross to the other processes (told once). */
  socketIoDropped(p: DaemonProcess, error: string): void;
}

export interface SpawnSpec {
  /** The daemon process entry (daemon/process/entry.ts built) and its init message (without socket). */
  file: string;
  init: Omit<ProcessInit, 'socket'>;
  /** Where the per-process socket folders go (created 0711: traversable, not listable). */
  socketBase: string;
  uid?: number;
  gid?: number;
  cwd: string;
}

/** How long a process hostd let go of may take to exit before SIGKILL. */
const GRACE_MS = 2000;

/** Whether a control batch holds the retire order. */
function hasRetire(batch: readonly unknown[]): boolean {
  let found = false;
  const h: WorkerControlHandlers = { retire: () => (found = true), wsRetire: () => {} };
  decodeToWorkerControl(batch, h);
  return found;
}

export class DaemonProcess {
  readonly child: ChildProcess;
  readonly socket: string;
  private readonly dir: string;
  readonly threads = new Map<number, PoolWorker>();
  /** Threads asked for before the process listens: started (and attached) once it does. */
  private pending: Array<() => void> = [];
  listening = false;
  dead = false;
  /** hostd is ending it (kill()): its exit is not a crash. */
  private ending = false;
  /**
   * A thread of it could not be stopped: no new thread goes here, the others drain, then it is
   * killed (process-group.ts).
   */
  replacing = false;
  /** What it was last told by socketIoPeers (a new process starts alone). */
  private sioPeers = false;
  readonly startedAt = performance.now();

  constructor(
    readonly generation: number,
    spec: SpawnSpec,
    private readonly events: ProcessEvents,
  ) {
    mkdirSync(spec.socketBase, { recursive: true, mode: 0o711 });
    this.dir = mkdtempSync(join(spec.socketBase, 'p-'));
    // The process binds its socket in a folder only its user (and root) can enter.
    if (spec.uid !== undefined) chownSync(this.dir, spec.uid, spec.gid ?? -1);
    this.socket = join(this.dir, 's');
    this.child = spawn(process.execPath, [spec.file], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
      uid: spec.uid,
      gid: spec.gid,
      cwd: spec.cwd,
      env: spec.init.env,
      detached: true, // its own session: kill(0) from the app does not reach hostd's group
    });
    this.child.on('message', (m: FromProcess) => this.onMessage(m));
    // 'error': the spawn failed (no pid; no 'exit' follows), or a message could not be sent to a
    // process that is exiting ('exit' follows and says how).
    this.child.on('error', (err) => {
      if (this.child.pid === undefined) this.gone(`could not be started: ${err.message}`);
    });
    this.child.on('exit', (code, signal) => this.gone(signal ? `was killed by ${signal}` : `exited with code ${code ?? 0}`));
    this.send({ ...spec.init, t: 'init', socket: this.socket });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  private send(m: ToProcess): void {
    if (this.child.connected) this.child.send(m, () => {}); // (a failed send: 'exit' tells)
  }

  /**
   * Starts worker `w` in this process; `attach(where)` runs once the process listens (the pool
   * then tells the fronts where the thread is).
   */
  addThread(w: PoolWorker, attach: (where: ThreadSockets) => void): void {
    this.threads.set(w.key, w);
    // Control batches cross as they are; a retire carries the fronts' count (board.ts mirrorServed).
    w.workerControl.on('message', (batch: unknown[]) => {
      this.send({ t: 'ctl', key: w.key, batch, served: hasRetire(batch) ? w.board.servedCount : undefined });
    });
    w.workerControl.unref();
    const start = () => {
      const where = { thread: join(this.dir, `t${w.key}`), desk: this.socket };
      attach(where);
      this.send({ t: 'thread', key: w.key, socket: where.thread });
    };
    if (this.listening) start();
    else this.pending.push(start);
  }

  /** Tells the process whether the pool has other live processes (its socket.io messages then go out). */
  socketIoPeers(peers: boolean): void {
    if (peers === this.sioPeers) return;
    this.sioPeers = peers;
    this.send({ t: 'sioPeers', peers });
  }

  /** Posts `batch` on the process's socket.io channel, for its threads (v8.serialize of PoolMessage[]). */
  socketIo(batch: Uint8Array): void {
    this.send({ t: 'sio', batch });
  }

  /** Ends thread `w` (the process goes on). */
  terminate(w: PoolWorker): void {
    if (!this.threads.delete(w.key)) return;
    w.workerControl.close();
    this.send({ t: 'terminate', key: w.key });
  }

  /** Threads still starting or serving here. */
  get live(): number {
    let n = 0;
    for (const w of this.threads.values()) if (w.state === 'starting' || w.state === 'ready') n++;
    return n;
  }

  /**
   * Ends the process. Gracefully: hostd closes its IPC channel and the process exits by itself
   * (it runs nothing hostd still needs), SIGKILL if it has not within GRACE_MS; else SIGKILL now
   * (over memoryLimitMb, a stuck thread).
   */
  kill(graceful: boolean): void {
    this.ending = true;
    if (this.dead) return;
    if (graceful && this.child.connected) {
      this.child.disconnect();
      setTimeout(() => this.dead || this.killGroup(), GRACE_MS).unref();
    } else this.killGroup();
  }

  /**
   * SIGKILL to the process and its process group (it leads one: `detached`): the children its
   * app started and did not detach die with it instead of outliving it, such as the `sleep` of
   * an `execSync` a stuck thread waits on. The group cannot hold hostd (another session).
   */
  private killGroup(): void {
    const pid = this.child.pid; // (never this.pid: -(-1) would be every process)
    if (pid !== undefined) {
      try {
        process.kill(-pid, 'SIGKILL');
        return;
      } catch {
        // no group yet (between fork and setsid): the process alone
      }
    }
    this.child.kill('SIGKILL');
  }

  private onMessage(m: FromProcess): void {
    switch (m.t) {
      case 'listening':
        this.listening = true;
        for (const start of this.pending.splice(0)) start();
        return;
      case 'ctl':
        this.threads.get(m.key)?.workerControl.postMessage(m.batch);
        return;
      case 'died': {
        const w = this.threads.get(m.key);
        if (w === undefined) return;
        this.threads.delete(m.key);
        w.workerControl.close();
        this.events.threadDied(w, Object.assign(new Error(m.error), { code: m.code }));
        return;
      }
      case 'stuck':
        this.events.threadStuck(this, m.key, m.threadId);
        return;
      case 'stats':
        // (open WebSockets are counted by the fronts: native-front/ws/conn.ts trackSocket)
        for (const [key, memory] of m.threads) {
          const w = this.threads.get(key);
          if (w !== undefined) w.board.memory = memory;
        }
        this.events.rss(this, m.rss);
        return;
      case 'sio':
        this.events.socketIo(this, m.batch);
        return;
      case 'sioDropped':
        this.events.socketIoDropped(this, m.error);
        return;
    }
  }

  private gone(how: string): void {
    if (this.dead) return;
    this.dead = true;
    this.pending = [];
    rmSync(this.dir, { recursive: true, force: true });
    this.events.exited(this, this.ending ? null : `the daemon process ${this.pid} ${how}`);
  }
}
