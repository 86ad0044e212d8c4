// The fronts, seen from the control thread: front 0 runs on this (main) thread, fronts 1..N-1 in
// worker threads, all behind one MessagePort each. Commands that need an answer get a promise;
// what fronts report (log lines, access-log text, worker requests) goes to the handlers given.
// This is also how the pools reach the fronts (PoolFronts).
import { MessageChannel, Worker, type MessagePort, type TransferListItem } from 'node:worker_threads';
import type { PoolFronts } from '../../daemon/pool/fronts.js';
import type { WorkerAttach } from '../../daemon/dispatch/types.js';
import { errorText } from '../../shared/errors.js';
import type { Level } from '../../shared/log.js';
import { threadFile } from '../../shared/thread-file.js';
import type { FrontCommand, FrontEvent, FrontInit, FrontStats } from '../front/messages.js';
import { FrontRuntime } from '../front/runtime.js';

type Reply = Extract<FrontEvent, { t: 'reply' }>;
type Command = FrontCommand extends infer C ? (C extends { seq: number } ? Omit<C, 'seq'> : never) : never;

export interface FrontHandlers {
  log(level: Level, msg: string, fields: Record<string, unknown> | undefined): void;
  access(text: string): void;
  retire(pool: number, key: number): void;
  kill(pool: number, key: number): void;
  /** Front `front` has every answer of the retired worker `key`. */
  drained(pool: number, key: number, front: number): void;
  /** A front failed: the host cannot go on at reduced capacity unnoticed. */
  fatal(front: number, error: string): void;
}

const STATS_TIMEOUT_MS = 2000;

export class FrontSet implements PoolFronts {
  private readonly ports: MessagePort[] = [];
  private readonly threads: Array<Worker | null> = [];
  private seq = 0;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private stopping = false;

  private constructor(
    readonly count: number,
    private readonly handlers: FrontHandlers,
  ) {}

  /** Starts `n` fronts; resolves when every front thread is running. */
  static async start(n: number, init: Omit<FrontInit, 'index'>, handlers: FrontHandlers): Promise<FrontSet> {
    const set = new FrontSet(n, handlers);
    const file = n > 1 ? await threadFile('front') : '';
    const online: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const { port1, port2 } = new MessageChannel();
      const frontInit: FrontInit = { ...init, index: i };
      set.ports.push(port1);
      port1.on('message', (e: FrontEvent) => set.onEvent(i, e));
      if (i === 0) {
        new FrontRuntime(frontInit, port2);
        set.threads.push(null);
        continue;
      }
      const w = new Worker(file, { workerData: { port: port2, init: frontInit }, transferList: [port2], name: `hostd-front-${i}` });
      set.threads.push(w);
      online.push(new Promise((resolve) => w.once('online', () => resolve())));
      w.on('error', (err) => handlers.fatal(i, errorText(err)));
      w.on('exit', (code) => {
        if (!set.stopping) handlers.fatal(i, `the front thread exited (code ${code})`);
      });
    }
    await Promise.all(online);
    return set;
  }

  private onEvent(front: number, e: FrontEvent): void {
    switch (e.t) {
      case 'reply': {
        const done = this.waiting.get(e.seq);
        this.waiting.delete(e.seq);
        done?.(e);
        return;
      }
      case 'log':
        return this.handlers.log(e.level, e.msg, e.fields);
      case 'access':
        return this.handlers.access(e.text);
      case 'retire':
        return this.handlers.retire(e.pool, e.key);
      case 'kill':
        return this.handlers.kill(e.pool, e.key);
      case 'drained':
        return this.handlers.drained(e.pool, e.key, front);
      case 'pumpOthers':
        for (let i = 0; i < this.count; i++) if (i !== front) this.post(i, { t: 'pump', pool: e.pool });
        return;
      case 'fatal':
        return this.handlers.fatal(front, e.error);
    }
  }

  post(front: number, cmd: FrontCommand, transfer?: TransferListItem[]): void {
    this.ports[front].postMessage(cmd, transfer);
  }

  broadcast(cmd: FrontCommand): void {
    for (let i = 0; i < this.count; i++) this.post(i, cmd);
  }

  /** Sends a command that answers; rejects with the front's error. */
  request(front: number, cmd: Command): Promise<Reply> {
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.waiting.set(seq, (r) => (r.error !== undefined ? reject(new Error(r.error)) : resolve(r)));
      this.post(front, { ...cmd, seq } as FrontCommand);
    });
  }

  requestAll(cmd: Command): Promise<Reply[]> {
    return Promise.all(Array.from({ length: this.count }, (_, i) => this.request(i, cmd)));
  }

  /**
   * A command whose answer is wanted only within `ms`: null after that, and the wait is
   * forgotten (a front that never answers must not leave one entry behind per /status call).
   */
  requestWithin(front: number, cmd: Command, ms: number): Promise<Reply | null> {
    const seq = ++this.seq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(seq);
        resolve(null);
      }, ms).unref();
      this.waiting.set(seq, (r) => {
        clearTimeout(timer);
        resolve(r.error !== undefined ? null : r);
      });
      this.post(front, { ...cmd, seq } as FrontCommand);
    });
  }

  /** Replies still awaited (each answered command, or given up on, leaves none). */
  get awaitedReplies(): number {
    return this.waiting.size;
  }

  /** Every front's counters (a front that does not answer in time is left out). */
  async stats(): Promise<FrontStats[]> {
    const all = await Promise.all(
      Array.from({ length: this.count }, (_, i) => this.requestWithin(i, { t: 'stats' }, STATS_TIMEOUT_MS).then((r) => r?.stats ?? null)),
    );
    return all.filter((s): s is FrontStats => s !== null);
  }

  // ---------------------------------------------------------------- PoolFronts

  attach(pool: number, front: number, worker: WorkerAttach): void {
    this.post(front, { t: 'attach', pool, worker }, worker.port !== null ? [worker.port] : []);
  }

  workerReady(pool: number): void {
    this.broadcast({ t: 'pump', pool });
  }

  detach(pool: number, key: number, reason: string): void {
    this.broadcast({ t: 'detach', pool, key, reason });
  }

  loadState(pool: number, loadError: string): void {
    this.broadcast({ t: 'loadState', pool, loadError });
  }

  unavailable(pool: number): void {
    this.broadcast({ t: 'unavailable', pool });
  }

  async closeDispatchers(pool: number, deadlineMs: number): Promise<void> {
    await this.requestAll({ t: 'poolClose', pool, deadlineMs });
  }

  /**
   * Ends the front threads. uWS v20.30 aborts the process if a thread with open connections
   * ends (it has no App.close()), so the caller waits until no client connection is left.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.threads.map((w) => w?.terminate()));
    for (const p of this.ports) p.close();
  }
}
