// Clients for tests: undici requests that read the whole answer, TCP probes, free ports, and a
// raw socket for what an HTTP client would normalise or hide (pipelining, HEAD bodies, no Host).
import { connect, createServer, type Server, type Socket } from 'node:net';
import { request } from 'undici';
import { withTimeout } from './wait.js';

export interface TextAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export async function getText(url: string, headers: Record<string, string> = {}): Promise<TextAnswer> {
  const res = await request(url, { headers });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

/** GET `url` and parse the body as JSON (typed by the caller: T describes the expected shape). */
export async function getJson<T>(url: string, headers: Record<string, string> = {}): Promise<TextAnswer & { json: T }> {
  const r = await getText(url, headers);
  let json: T;
  try {
    json = JSON.parse(r.text) as T;
  } catch {
    throw new Error(`${url} answered ${r.status} with a body that is not JSON: ${r.text.slice(0, 200)}`);
  }
  return { ...r, json };
}

/** True when a TCP connection to 127.0.0.1:port is accepted. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** `n` ports that were free a moment ago (bound together, so they differ), for configs that name a port. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0];
}

/** The end of a response head. */
export const headEnd = (t: string): boolean => t.includes('\r\n\r\n');

/**
 * One raw TCP connection. `read(done)` resolves with what arrived since the previous read once
 * `done(text)` holds, or when the server closes; bytes are kept in order, so a stray body after
 * a HEAD answer shows up at the start of the next read.
 */
export class RawClient {
  private buf = '';
  private ended = false;
  private readonly wakers = new Set<() => void>();
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      this.wake();
    });
    socket.on('error', () => {}); // a reset is a close for the reader
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.ended = true;
        this.wake();
        resolve();
      }),
    );
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, host);
      s.once('connect', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  /** True once the server closed the connection. */
  get isClosed(): boolean {
    return this.ended;
  }

  write(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** Resolves with the text received so far once `done(text)` holds or the connection closed. */
  async read(done: (text: string) => boolean = () => false, timeoutMs = 10_000): Promise<string> {
    const ready = () => done(this.buf) || this.ended;
    if (!ready())
      await withTimeout(
        new Promise<void>((resolve) => {
          const waker = () => {
            if (!ready()) return;
            this.wakers.delete(waker);
            resolve();
          };
          this.wakers.add(waker);
        }),
        timeoutMs,
        `a raw answer; got ${JSON.stringify(this.buf.slice(0, 500))}`,
      );
    const text = this.buf;
    this.buf = '';
    return text;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const w of [...this.wakers]) w();
  }
}

/** Sends `text` on a fresh connection; resolves with what came back once `done` holds or the server closed. */
export async function rawExchange(port: number, text: string, done?: (text: string) => boolean, timeoutMs?: number): Promise<string> {
  const c = await RawClient.connect(port);
  try {
    c.write(text);
    return await c.read(done, timeoutMs);
  } finally {
    c.destroy();
  }
}
