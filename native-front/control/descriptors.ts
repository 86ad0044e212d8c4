// File descriptors and client sockets, read from /proc (Linux; elsewhere these report nothing).
//
// - The descriptor limit and how many are open: out of descriptors, uWS v20.30's accept loop
//   spins at 100% of a core retrying accept(); hostd stops accepting a little before the limit
//   instead (FdWatch), so the kernel refuses new connections while the ones already accepted,
//   the status listener and static files keep their descriptors.
// - How many client connections are open on hostd's ports: a front thread must not end while it
//   has any (uWS v20.30 aborts the process then), and a drain waits for them to go.
import { readdir, readFile, readlink } from 'node:fs/promises';

/** The soft RLIMIT_NOFILE ("Max open files" in /proc/self/limits), or 0 when unknown. */
export async function fdLimit(): Promise<number> {
  try {
    const text = await readFile('/proc/self/limits', 'utf8');
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
    return m && m[1] !== 'unlimited' ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Descriptors open in this process, or -1 when unknown. Reading /proc/self/fd takes a descriptor
 * itself: when there is none left (EMFILE/ENFILE) the answer is "all of them", Infinity.
 */
export async function openFds(): Promise<number> {
  try {
    return (await readdir('/proc/self/fd')).length;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EMFILE' || code === 'ENFILE' ? Infinity : -1;
  }
}

/** TCP connections (not listen sockets) of this process whose local port is one of `ports`; -1 when unknown. */
export async function clientSockets(ports: ReadonlySet<number>): Promise<number> {
  if (ports.size === 0) return 0;
  try {
    const inodes = new Set<string>();
    const fds = await readdir('/proc/self/fd');
    await Promise.all(
      fds.map(async (fd) => {
        const link = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
        if (link.startsWith('socket:[')) inodes.add(link.slice(8, -1));
      }),
    );
    let n = 0;
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      const text = await readFile(table, 'utf8').catch(() => '');
      for (const line of text.split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length < 10) continue;
        const port = parseInt(f[1].slice(f[1].lastIndexOf(':') + 1), 16);
        const state = f[3];
        // 0A = LISTEN; TIME_WAIT (06) sockets have no descriptor (inode 0).
        if (state !== '0A' && ports.has(port) && inodes.has(f[9])) n++;
      }
    }
    return n;
  } catch {
    return -1;
  }
}

export interface FdWatchReport {
  /** Times accepting was paused for lack of descriptors. */
  pauses: number;
  /** Seconds spent paused, in all. */
  pausedSeconds: number;
  paused: boolean;
  limit: number;
  open: number;
}

/**
 * Watches the descriptor count: at `limit - reserve` it asks the fronts to stop accepting, below
 * `limit - 2 × reserve` to accept again. Samples every 500 ms, every 50 ms once past half the limit.
 */
export class FdWatch {
  private timer: NodeJS.Timeout | null = null;
  private limit = 0;
  private open = 0;
  private paused = false;
  private pausedAt = 0;
  private pauses = 0;
  private pausedMs = 0;
  private stopped = false;

  constructor(private readonly setPaused: (paused: boolean, open: number, limit: number) => void) {}

  async start(): Promise<void> {
    this.limit = await fdLimit();
    if (this.limit > 0) await this.sample();
  }

  private reserve(): number {
    return Math.max(16, Math.min(256, Math.floor(this.limit * 0.05)));
  }

  private async sample(): Promise<void> {
    if (this.stopped) return;
    const counted = await openFds();
    if (counted >= 0) {
      const open = Math.min(counted, this.limit);
      this.open = open;
      const r = this.reserve();
      if (!this.paused && open >= this.limit - r) {
        this.paused = true;
        this.pausedAt = performance.now();
        this.pauses++;
        this.setPaused(true, open, this.limit);
      } else if (this.paused && open < this.limit - 2 * r) {
        this.paused = false;
        this.pausedMs += performance.now() - this.pausedAt;
        this.setPaused(false, open, this.limit);
      }
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.sample(), this.open * 2 > this.limit ? 50 : 500);
    this.timer.unref();
  }

  report(): FdWatchReport {
    const now = this.paused ? performance.now() - this.pausedAt : 0;
    return { pauses: this.pauses, pausedSeconds: (this.pausedMs + now) / 1000, paused: this.paused, limit: this.limit, open: this.open };
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
