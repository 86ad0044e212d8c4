// The daemon processes of one pool (pool.isolation: process): where a new worker thread goes, and
// what a process's end means for its threads. The pool's WorkerSet keeps the supervision it has
// for thread pools (target, load failures, retire, roll, close): it asks this group to start a
// thread (place) and to end one (terminate), and hears from it when threads die.
//
// - A thread goes to a process of the current generation with fewer than `threads` live threads,
//   else to a new process while there are fewer than `processes`. A roll starts a generation: its
//   fresh threads go to fresh processes (a changed user, env or cwd applies), and a process of an
//   older generation ends once its last thread has gone.
// - A crash of the process (a segfault, abort(), kill -9) ends its threads: hostd answers their
//   in-flight requests 502 (pool worker boards mark every request as started), the pool starts
//   replacements, and a process that crashes soon after the previous one waits for a back-off.
// - memoryLimitMb is the process's resident memory (RSS: native allocations included): over it,
//   the process is replaced.
// - A thread that does not exit when terminated (requestTimeout, blocked in native code: the
//   process reports it `stuck`) would run in its process for good: the process is replaced as in a
//   roll. It takes no new thread, successors of its other threads start in another process, then
//   those retire (their requests complete), and once they have drained (or met the pool's retire
//   deadline, sweep.ts) it is killed with its process group.
// - socket.io: the pool's channel spans its processes. What one process's threads post there is
//   relayed to the pool's other live processes (never back, never to another pool's: a tenant's
//   process reaches its own pool only), and a worker's end is announced to all of them
//   (daemon/process/socketio-bridge.ts, daemon/app/socketio/channel.ts). A process alone in the
//   pool is told so, and sends nothing.
import { serialize } from 'node:v8';
import type { ResolvedApp } from '../../shared/config/types.js';
import type { Logger } from '../../shared/log.js';
import type { PoolFronts } from './fronts.js';
import type { PoolWorker } from './worker.js';
import type { ThreadSockets } from '../dispatch/process-socket.js';
import { goneNotice } from '../app/socketio/channel.js';
import { DaemonProcess, type SpawnSpec } from './daemon-process.js';
import { processSpec } from './process-spec.js';

const MAX_BACKOFF_MS = 30_000;
/** A process that lived longer than this before crashing resets the back-off. */
const STABLE_MS = 30_000;

/** What the group needs from its pool (daemon/pool/worker-set.ts). */
export interface GroupOwner {
  readonly id: number;
  readonly cfg: ResolvedApp;
  /** The pool's name for its workers, the same across rolls (socket.io's adapter). */
  readonly group: string;
  readonly log: Logger;
  /** Worker `w` is gone (its pool decides what that means: respawn, load failure, 502s). */
  died(w: PoolWorker, err: unknown): void;
  /** Counts a replacement for memory (the pool's restart counters). */
  countMemoryRestart(): void;
  /** Starts successors of `workers`, then retires them once those serve (pool.ts). */
  renew(workers: readonly PoolWorker[]): Promise<void>;
}

export class ProcessGroup {
  readonly processes: DaemonProcess[] = [];
  private generation = 0;
  private crashes = 0;
  private lastCrash = 0;
  private closing = false;
  /** Threads waiting for a back-off to end before their process is spawned. */
  private delayed: PoolWorker[] = [];
  private delayTimer: NodeJS.Timeout | null = null;
  /** How new processes start (prepare()). */
  private spec: SpawnSpec | undefined;

  constructor(
    private readonly owner: GroupOwner,
    private readonly fronts: PoolFronts,
    private readonly cacheDir: string | undefined,
  ) {}

  /**
   * Settles how new processes start (`entry`: the module the pool compiled); at a roll, fresh
   * threads from now on go to fresh processes, so a changed user, env or cwd applies.
   */
  async prepare(entry: string | undefined, roll: boolean): Promise<void> {
    this.spec = await processSpec(this.owner.cfg, { fronts: this.fronts.count, cacheDir: this.cacheDir, entry, group: this.owner.group });
    if (roll) this.generation++;
  }

  /** Tells every front where worker `w` is (its sockets). */
  private attach(w: PoolWorker, where: ThreadSockets): void {
    for (let f = 0; f < this.fronts.count; f++)
      this.fronts.attach(this.owner.id, f, { ...w.frontAttach[f], remote: { ...where, front: f } });
  }

  /** Starts worker thread `w` in a process with room (or a new one). */
  place(w: PoolWorker): void {
    if (this.delayTimer !== null) {
      this.delayed.push(w);
      return;
    }
    const pool = this.owner.cfg.pool;
    const current = this.processes.filter((p) => !p.dead && !p.replacing && p.generation === this.generation);
    let target = current.find((p) => p.live < pool.threads);
    if (target === undefined && current.length >= pool.processes && current.length > 0) {
      target = current.reduce((a, b) => (b.live < a.live ? b : a));
    }
    if (target === undefined) {
      const delay = this.backoff();
      if (delay > 0) {
        this.delayed.push(w);
        this.delayTimer = setTimeout(() => {
          this.delayTimer = null;
          for (const d of this.delayed.splice(0)) if (d.state === 'starting') this.place(d);
        }, delay);
        this.delayTimer.unref();
        return;
      }
      target = this.spawn();
    }
    target.addThread(w, (where) => this.attach(w, where));
  }

  private backoff(): number {
    if (this.crashes === 0) return 0;
    const since = performance.now() - this.lastCrash;
    const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** (this.crashes - 1));
    return Math.max(0, delay - since);
  }

  private spawn(): DaemonProcess {
    const p = new DaemonProcess(this.generation, this.spec!, {
      threadDied: (w, err) => {
        this.owner.died(w, err);
        this.endIfEmpty(p);
      },
      threadStuck: (dp, key, threadId) => this.replaceStuck(dp, key, threadId),
      exited: (dp, why) => this.exited(dp, why),
      rss: (dp, bytes) => this.checkMemory(dp, bytes),
      socketIo: (dp, batch) => this.relaySocketIo(dp, batch),
      socketIoDropped: (dp, error) =>
        this.owner.log.warn(
          `socket.io: a message could not be copied to the pool's other daemon processes (${error}); ` +
            `only the clients of daemon process ${dp.pid} got it (further ones are not logged)`,
          { pid: dp.pid },
        ),
    });
    this.processes.push(p);
    this.tellPeers();
    return p;
  }

  /** Each live process learns whether it has others to send its socket.io messages to. */
  private tellPeers(): void {
    const live = this.processes.filter((p) => !p.dead);
    for (const p of live) p.socketIoPeers(live.length > 1);
  }

  /** What process `from` posted on the pool's socket.io channel goes to the pool's other processes. */
  private relaySocketIo(from: DaemonProcess, batch: Uint8Array): void {
    for (const p of this.processes) if (p !== from && !p.dead) p.socketIo(batch);
  }

  /** Worker `member` (its key) has ended: the socket.io members of every process forget it at once. */
  announceGone(member: string): void {
    const batch = serialize([goneNotice(member)]);
    for (const p of this.processes) if (!p.dead) p.socketIo(batch);
  }

  /** Ends worker `w`'s thread (the pool has already counted why). */
  terminate(w: PoolWorker): void {
    const i = this.delayed.indexOf(w);
    if (i >= 0) this.delayed.splice(i, 1);
    for (const p of this.processes) {
      if (p.threads.has(w.key)) {
        p.terminate(w);
        this.endIfEmpty(p);
        return;
      }
    }
  }

  /**
   * A process of an older generation (or of a closing pool, or being replaced) with no thread left
   * has no use. One being replaced is killed at once: its exit would wait for its stuck thread
   * (process.exit joins threads), and its threads have drained.
   */
  private endIfEmpty(p: DaemonProcess): void {
    if (p.threads.size === 0 && (p.generation !== this.generation || this.closing || p.replacing)) p.kill(!p.replacing);
  }

  /** A thread of `p` could not be stopped: `p` is replaced (the file's header says how). */
  private replaceStuck(p: DaemonProcess, key: number, threadId: number): void {
    if (p.dead || p.replacing) return;
    p.replacing = true;
    this.owner.log.error('a daemon worker thread could not be stopped (blocked in native code?): replacing its daemon process', {
      worker: key, // as the front's "unresponsive" line names it
      thread: threadId,
      pid: p.pid,
      draining: p.live,
    });
    void this.owner.renew([...p.threads.values()]);
    this.endIfEmpty(p);
  }

  private exited(p: DaemonProcess, why: string | null): void {
    const i = this.processes.indexOf(p);
    if (i >= 0) this.processes.splice(i, 1);
    this.tellPeers();
    if (why !== null) {
      const lived = performance.now() - p.startedAt;
      this.crashes = lived > STABLE_MS ? 1 : this.crashes + 1;
      this.lastCrash = performance.now();
      this.owner.log.error(`daemon process ended: ${why}`, { pid: p.pid, threads: p.threads.size });
    }
    const err = new Error(why ?? `the daemon process ${p.pid} was ended by hostd`);
    for (const w of [...p.threads.values()]) {
      p.threads.delete(w.key);
      this.owner.died(w, err);
    }
  }

  private checkMemory(p: DaemonProcess, rss: number): void {
    const limit = this.owner.cfg.pool.memoryLimitMb;
    if (!limit || rss <= limit * 1048576 || p.dead) return;
    this.owner.log.error('daemon process over memoryLimitMb (resident memory): replacing it', {
      pid: p.pid,
      memoryMb: Math.round(rss / 1048576),
      limitMb: limit,
    });
    this.owner.countMemoryRestart();
    for (const w of p.threads.values()) w.killedFor ??= 'memory';
    p.kill(false);
  }

  /** Ends every process (the pool has ended their threads, or the deadline passed). */
  close(): void {
    this.closing = true;
    if (this.delayTimer !== null) clearTimeout(this.delayTimer);
    for (const p of [...this.processes]) p.kill(true);
  }
}
