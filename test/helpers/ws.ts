// WebSocket clients for tests (the `ws` package): open, wait for the next message matching
// something, see how it closed, or see the HTTP answer an upgrade got instead.
import WebSocket, { type ClientOptions } from 'ws';

export type Message = string | Buffer;

export interface Client {
  ws: WebSocket;
  /** Every message so far (text as strings, binary as Buffers). */
  messages: Message[];
  /** Resolves with the next message (already received or still to come) that `match` accepts. */
  next(match?: (m: Message) => boolean, timeoutMs?: number): Promise<Message>;
  /** Resolves once the socket has closed, with the code and reason the client saw. */
  closed: Promise<{ code: number; reason: string }>;
  send(data: string | Buffer): void;
  close(code?: number, reason?: string): void;
}

/** An upgrade the server answered with HTTP instead of 101. */
export class Refused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly headers: Record<string, string | string[] | undefined>,
  ) {
    super(`upgrade refused: ${status} ${body}`);
  }
}

export type ConnectOptions = ClientOptions & { protocols?: string | string[]; servername?: string };

export function connect(url: string, opts: ConnectOptions = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts.protocols, { perMessageDeflate: false, ...opts });
    const messages: Message[] = [];
    let consumed = 0;
    const waiters: Array<{ match: (m: Message) => boolean; resolve: (m: Message) => void }> = [];
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const m: Message = isBinary ? data : data.toString();
      messages.push(m);
      for (const w of [...waiters]) {
        if (w.match(m)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(m);
          return;
        }
      }
    });
    const closed = new Promise<{ code: number; reason: string }>((res) =>
      ws.on('close', (code, reason) => res({ code, reason: reason.toString() })),
    );
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => reject(new Refused(res.statusCode ?? 0, body, res.headers)));
    });
    ws.on('error', (err) => reject(err));
    ws.on('open', () =>
      resolve({
        ws,
        messages,
        closed,
        send: (d) => ws.send(d),
        close: (code, reason) => ws.close(code, reason),
        next(match = () => true, timeoutMs = 10_000) {
          // Messages already here that were not handed out yet come first.
          for (let i = consumed; i < messages.length; i++) {
            if (match(messages[i])) {
              consumed = i + 1;
              return Promise.resolve(messages[i]);
            }
          }
          consumed = messages.length;
          return new Promise((res, rej) => {
            const t = setTimeout(
              () => rej(new Error(`no matching WebSocket message within ${timeoutMs} ms; got ${messages.length}: ${describe(messages)}`)),
              timeoutMs,
            );
            waiters.push({
              match,
              resolve: (m) => {
                clearTimeout(t);
                consumed = messages.length;
                res(m);
              },
            });
          });
        },
      }),
    );
  });
}

/** The HTTP answer to an upgrade that must be refused (rejects if it is accepted). */
export async function refused(url: string, opts: ClientOptions = {}): Promise<Refused> {
  try {
    const c = await connect(url, opts);
    c.ws.terminate();
  } catch (err) {
    if (err instanceof Refused) return err;
    throw err;
  }
  throw new Error(`the upgrade to ${url} was accepted`);
}

/** Messages for an error text: the last few, each cut short. */
function describe(messages: Message[]): string {
  return JSON.stringify(
    messages
      .slice(-5)
      .map((m) => (typeof m === 'string' ? (m.length > 60 ? `${m.slice(0, 60)}… (${m.length} chars)` : m) : `<${m.length} bytes>`)),
  );
}

/** A message that starts with `prefix`. */
export const startsWith = (prefix: string) => (m: Message) => typeof m === 'string' && m.startsWith(prefix);

/** The sockets a suite opens, so that its afterEach can cut whatever a test (passed or failed) left open. */
export class OpenClients {
  readonly list: Client[] = [];

  async connect(url: string, opts?: ConnectOptions): Promise<Client> {
    const c = await connect(url, opts);
    this.list.push(c);
    return c;
  }

  terminateAll(): void {
    for (const c of this.list.splice(0)) c.ws.terminate();
  }
}
