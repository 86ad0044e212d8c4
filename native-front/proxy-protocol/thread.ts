// A PROXY-protocol gateway on its own worker thread (gateway-thread.ts), driven by messages.
// Same behaviour as ProxyProtocolGateway in the calling thread; only where the relay's CPU goes
// differs. The thread's file comes from shared/thread-file.ts, as every hostd thread's does.
import { Worker } from 'node:worker_threads';
import { HostdError } from '../../shared/errors.js';
import { threadFile } from '../../shared/thread-file.js';
import type { GatewayOptions, GatewayStats } from './gateway.js';

export type ToGateway = { type: 'close' } | { type: 'destroy' } | { type: 'stats'; id: number };
export type FromGateway =
  | { type: 'listening'; port: number }
  | { type: 'error'; message: string }
  | { type: 'refused'; peer: string; reason: string }
  | { type: 'stats'; id: number; stats: GatewayStats; connections: number };

export interface GatewayThreadOptions extends GatewayOptions {
  /** The thread died (a bug, or out of memory): the listener no longer accepts connections. */
  onError?: (err: Error) => void;
}

export class GatewayThread {
  private nextId = 0;
  private readonly pending = new Map<number, (s: { stats: GatewayStats; connections: number }) => void>();
  /** Resolves when the thread has ended (drained after close(), or destroyed). */
  readonly exited: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    readonly port: number,
    /** Set to 1 by the thread once its public socket is closed. */
    private readonly closedFlag: Int32Array,
  ) {
    this.exited = new Promise((r) =>
      worker.once('exit', () => {
        Atomics.store(closedFlag, 0, 1);
        r();
      }),
    );
    worker.on('message', (m: FromGateway) => {
      if (m.type === 'stats') {
        this.pending.get(m.id)?.({ stats: m.stats, connections: m.connections });
        this.pending.delete(m.id);
      }
    });
  }

  /** Starts the thread; resolves once it listens on the public address. */
  static async start(opts: GatewayThreadOptions): Promise<GatewayThread> {
    const { onRefused, onError, ...data } = opts;
    const closedFlag = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(await gatewayThreadFile(), {
      workerData: { ...data, closedFlag },
      name: `hostd proxy-protocol ${opts.host}:${opts.port}`,
    });
    return new Promise((resolve, reject) => {
      let started = false;
      worker.on('message', (m: FromGateway) => {
        if (m.type === 'listening') {
          started = true;
          resolve(new GatewayThread(worker, m.port, closedFlag));
        } else if (m.type === 'error') reject(new HostdError('HOSTD_LISTEN', m.message));
        else if (m.type === 'refused') onRefused?.(m.peer, m.reason);
      });
      worker.on('error', (err) => (started ? onError?.(err) : reject(err)));
      worker.once('exit', (code) => {
        if (!started)
          reject(new HostdError('HOSTD_LISTEN', `the PROXY-protocol gateway thread for ${opts.host}:${opts.port} exited with ${code}`));
      });
    });
  }

  /** Counters and open connections, from the thread. */
  stats(): Promise<{ stats: GatewayStats; connections: number }> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.post({ type: 'stats', id });
    });
  }

  /**
   * Stops accepting. Synchronous like uWS's us_listen_socket_close: it returns once the thread has
   * closed the public socket (a reload may bind the same port next), waiting for it on a shared
   * flag for at most a second (the thread's answer takes one turn of its event loop). Relayed
   * connections finish, then the thread ends.
   */
  close(): void {
    if (Atomics.load(this.closedFlag, 0) === 1) return;
    this.post({ type: 'close' });
    Atomics.wait(this.closedFlag, 0, 0, 1000);
  }

  /** Cuts every connection and ends the thread. */
  destroyAll(): void {
    this.post({ type: 'destroy' });
  }

  private post(m: ToGateway): void {
    try {
      this.worker.postMessage(m);
    } catch {
      // the thread has ended already
    }
  }
}

/** The file the gateway thread runs. */
export function gatewayThreadFile(): Promise<string> {
  return threadFile('proxy-gateway');
}
