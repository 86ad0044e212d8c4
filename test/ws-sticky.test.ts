// Session affinity (pool.sticky) over real sockets — a session cookie bound to the worker whose
// response set it, a query parameter bound to the worker that first served it — and the pieces
// underneath: the key parsers, and the frame codec the node bridge speaks to ws and engine.io.
import { expect } from 'chai';
import { resolve } from 'node:path';
import { request } from 'undici';
import { cookieValue, queryParam } from '../daemon/dispatch/ws-sticky.js';
import { clientFrame, closePayload, FrameParser, parseClose, parseHead, type Frame } from '../daemon/app/ws-frames.js';
import { startHost, type TestHost } from './helpers/host.js';

const SESSIONS = resolve('test/fixtures/ws/sessions.mjs');

describe('websockets: sticky sessions (pool.sticky)', function () {
  this.timeout(30_000);
  let h: TestHost;
  const url = (p: string) => `http://127.0.0.1:${h.port}${p}`;
  const json = async (p: string, headers: Record<string, string> = {}) =>
    (await (await request(url(p), { headers })).body.json()) as { thread: number; name?: string | null };

  before(async () => {
    h = await startHost([
      {
        serverName: ['*'],
        apps: [
          { url: '/cookie', module: SESSIONS, pool: { threads: 2, sticky: { cookie: 'sid' } } },
          { url: '/query', module: SESSIONS, pool: { threads: 2, sticky: { query: 'session' } } },
          { url: '/plain', module: SESSIONS, pool: { threads: 2 } },
        ],
      },
    ]);
  });
  after(() => h?.close());

  /** Logs in on the second worker (the first is kept busy), returns the cookie and that worker. */
  async function loginOnSecondWorker(mount: string): Promise<{ cookie: string; thread: number }> {
    const busy = request(url(`${mount}/slow?ms=800`));
    const res = await request(url(`${mount}/login?name=ann`));
    const thread = Number(await res.body.text());
    const cookie = String(res.headers['set-cookie']).split(';')[0];
    await (await busy).body.text();
    return { cookie, thread };
  }

  it('cookie: every request carrying the session cookie reaches the worker that set it', async () => {
    const { cookie, thread } = await loginOnSecondWorker('/cookie');
    for (let i = 0; i < 20; i++) expect(await json('/cookie/whoami', { cookie })).to.deep.equal({ thread, name: 'ann' });
  });

  it('without it, the same app loses the session on the other worker (what the option is for)', async () => {
    const { cookie } = await loginOnSecondWorker('/plain');
    const names = new Set<string | null | undefined>();
    for (let i = 0; i < 20; i++) names.add((await json('/plain/whoami', { cookie })).name);
    expect(names.has(null)).to.equal(true);
  });

  it('query: a parameter value stays with the worker that first served it', async () => {
    const busy = request(url('/query/slow?ms=800'));
    const first = await json('/query/q?session=abc');
    await (await busy).body.text();
    for (let i = 0; i < 20; i++) expect((await json('/query/q?session=abc')).thread).to.equal(first.thread);
    // Another value is bound on its own.
    expect((await json('/query/q?session=other')).thread).to.be.a('number');
  });
});

describe('websockets: sticky keys and frames (units)', () => {
  it('finds query parameters and cookies by exact name', () => {
    expect(queryParam('http://h/socket.io/?EIO=4&transport=polling&sid=AbC-_1', 'sid')).to.equal('AbC-_1');
    expect(queryParam('http://h/x?xsid=1&sid=2', 'sid')).to.equal('2');
    expect(queryParam('http://h/x?sid', 'sid')).to.equal('');
    expect(queryParam('http://h/x', 'sid')).to.equal('');
    expect(cookieValue('a=1; sid=s%3Aabc; b=2', 'sid')).to.equal('s%3Aabc');
    expect(cookieValue('xsid=1', 'sid')).to.equal('');
  });

  it('client frames parse back into messages, whatever the sizes and however the bytes are split', () => {
    for (const n of [0, 1, 125, 126, 65535, 65536, 200_000]) {
      const payload = Buffer.alloc(n, n % 251);
      const frame = clientFrame(2, payload);
      const got: Frame[] = [];
      const p = new FrameParser((f) => got.push(f));
      // Masked (as a client must), with a zero key: fed back byte ranges of odd sizes.
      for (let i = 0; i < frame.length; i += 7777) p.push(frame.subarray(i, i + 7777));
      expect(got).to.have.length(1);
      expect(got[0].opcode).to.equal(2);
      expect(got[0].payload.equals(payload)).to.equal(true);
    }
  });

  it('joins fragmented server frames; control frames in between pass through', () => {
    const frame = (fin: boolean, op: number, text: string) => {
      const b = Buffer.from(text);
      return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | op, b.length]), b]);
    };
    const got: Frame[] = [];
    const p = new FrameParser((f) => got.push(f));
    p.push(Buffer.concat([frame(false, 1, 'hel'), frame(true, 9, 'ping'), frame(false, 0, 'lo '), frame(true, 0, 'world')]));
    expect(got.map((f) => [f.opcode, f.payload.toString()])).to.deep.equal([
      [9, 'ping'],
      [1, 'hello world'],
    ]);
  });

  it('close payloads and HTTP heads', () => {
    expect(parseClose(closePayload(4001, 'as asked'))).to.deep.equal({ code: 4001, reason: 'as asked' });
    expect(parseClose(closePayload(1005, ''))).to.deep.equal({ code: 1005, reason: '' });
    expect(parseHead(Buffer.from('HTTP/1.1 101 Switching'))).to.equal(null);
    const head = parseHead(Buffer.from('HTTP/1.1 401 Unauthorized\r\nContent-Length: 2\r\nX-A: b\r\n\r\nno'))!;
    expect(head.status).to.equal(401);
    expect(head.headers).to.deep.equal(['content-length', '2', 'x-a', 'b']);
    expect(head.rest.toString()).to.equal('no');
  });
});
