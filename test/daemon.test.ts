// The daemon pool over real sockets: a fetch-style app in worker threads behind the native front.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { request } from 'undici';
import { KITCHEN, quietLog, releaseHeld, startHost, type TestHost, waitFor, withTimeout } from './helpers/index.js';

function pattern(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 255;
  return b;
}
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('daemon pool: requests and responses', function () {
  this.timeout(20000);
  let h: TestHost;
  const log = quietLog();

  before(async () => {
    process.env.HOSTD_TEST_VAR = 'from-parent';
    h = await startHost(
      [
        {
          serverName: ['*'],
          apps: [
            {
              url: '/',
              module: KITCHEN,
              maxBodySize: 8 * 1024 * 1024,
              pool: { threads: 2, env: { GREETING: 'hej' }, passEnv: ['HOSTD_TEST_VAR'] },
            },
            { url: '/pre/fix', module: KITCHEN, pool: { threads: 1 } },
            { url: '/addr', module: KITCHEN, pool: { threads: 2 } },
          ],
        },
      ],
      { errorLog: log },
    );
  });
  after(async () => {
    await h?.close();
  });

  it('serves hello', async () => {
    const res = await fetch(h.url('/hello'));
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('text/plain');
    expect(await res.text()).to.equal('hello world');
  });

  it('passes the pool env as `env`, and a passEnv variable of the host into process.env', async () => {
    const body = await (await fetch(h.url('/env'))).json();
    expect(body.env).to.deep.equal({ GREETING: 'hej' });
    expect(body.processEnv).to.equal('from-parent');
  });

  it('sends status, headers and multiple Set-Cookie', async () => {
    const res = await request(h.url('/cookies'));
    expect(res.statusCode).to.equal(201);
    expect(res.headers['x-custom']).to.equal('yes');
    expect(res.headers['set-cookie']).to.deep.equal(['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
    expect(await res.body.text()).to.equal('cookies');
  });

  it('gives the app the mount-relative URL, the mount (also as X-Forwarded-Prefix), the client address and the request id', async () => {
    const res = await request(h.url('/pre/fix/info?x=1&y=%20z'), {
      headers: { host: 'app.example:8443', 'x-test': 'abc', 'x-request-id': 'rid-123' },
    });
    const body = (await res.body.json()) as Record<string, unknown>;
    expect(body.url).to.equal('http://app.example:8443/info?x=1&y=%20z');
    expect(body.mount).to.equal('/pre/fix');
    expect(body.prefix).to.equal('/pre/fix');
    expect(body.method).to.equal('GET');
    expect(body.xTest).to.equal('abc');
    expect(body.remoteAddress).to.match(/127\.0\.0\.1|::1/);
    expect(body.requestId).to.equal('rid-123');
  });

  it('gives the client address on first use: asked of the front at first, then sent with every request', async () => {
    // A fresh pool, no access log: its first requests go out without the address and the
    // workers ask the front for it (shared-memory answer); later ones carry it.
    const first = await Promise.all(Array.from({ length: 4 }, () => request(h.url('/addr/info')).then((r) => r.body.json())));
    const later = await Promise.all(Array.from({ length: 16 }, () => request(h.url('/addr/info')).then((r) => r.body.json())));
    for (const body of [...first, ...later]) expect((body as { remoteAddress: string }).remoteAddress).to.match(/^(127\.0\.0\.1|::1)$/);
  });

  for (const len of [false, true]) {
    it(`streams a 5 MB response ${len ? 'with Content-Length' : 'chunked'}, bytes intact`, async () => {
      const n = 5 * 1024 * 1024;
      const res = await request(h.url(`/big?n=${n}${len ? '&len=1' : ''}`));
      expect(res.statusCode).to.equal(200);
      if (len) expect(res.headers['content-length']).to.equal(String(n));
      else expect(res.headers['transfer-encoding']).to.equal('chunked');
      const buf = new Uint8Array(await res.body.arrayBuffer());
      expect(buf.byteLength).to.equal(n);
      expect(sha256(buf)).to.equal(sha256(pattern(n)));
    });
  }

  it('answers HEAD without a body', async () => {
    const res = await request(h.url('/hello'), { method: 'HEAD' });
    expect(res.statusCode).to.equal(200);
    expect(await res.body.text()).to.equal('');
  });

  it('echoes a multi-MB POST (hash verified)', async () => {
    const data = pattern(6 * 1024 * 1024 + 17);
    const res = await request(h.url('/echo'), { method: 'POST', body: data, headers: { 'content-type': 'application/x-test' } });
    expect(res.statusCode).to.equal(200);
    expect(res.headers['content-type']).to.equal('application/x-test');
    const back = new Uint8Array(await res.body.arrayBuffer());
    expect(back.byteLength).to.equal(data.byteLength);
    expect(sha256(back)).to.equal(sha256(data));
  });

  it('streams a chunked upload to the app (Transfer-Encoding: chunked)', async () => {
    const parts: Buffer[] = [];
    for (let i = 0; i < 40; i++) parts.push(Buffer.from(pattern(50_000 + i)));
    const all = Buffer.concat(parts);
    async function* gen() {
      for (const p of parts) {
        yield p;
        await new Promise((r) => setImmediate(r));
      }
    }
    const res = await request(h.url('/hash'), { method: 'POST', body: Readable.from(gen()) });
    expect(res.statusCode).to.equal(200);
    const body = (await res.body.json()) as { sha256: string; bytes: number };
    expect(body.bytes).to.equal(all.byteLength);
    expect(body.sha256).to.equal(sha256(all));
  });

  it('refuses a body over maxBodySize with 413 (Content-Length and streamed)', async () => {
    const big = pattern(9 * 1024 * 1024);
    const r1 = await request(h.url('/hash'), { method: 'POST', body: big }).catch((e: Error) => e);
    if (!(r1 instanceof Error)) {
      expect(r1.statusCode).to.equal(413);
      await r1.body.dump();
    }
    async function* gen() {
      for (let i = 0; i < 12; i++) yield Buffer.from(pattern(1024 * 1024));
    }
    const r2 = await request(h.url('/hash'), { method: 'POST', body: Readable.from(gen()) }).catch((e: Error) => e);
    if (!(r2 instanceof Error)) {
      expect(r2.statusCode).to.equal(413);
      await r2.body.dump();
    }
    // At least one of the two must have been seen as a clean 413 by the client.
    expect([r1, r2].some((r) => !(r instanceof Error) && r.statusCode === 413)).to.equal(true);
    // And the pool still serves.
    expect(await (await fetch(h.url('/hello'))).text()).to.equal('hello world');
  });

  it('streams the response as the app produces it (SSE-like)', async () => {
    // The app sends event i+1 only once the test released "<key>-<i>": each event must reach the
    // client while the handler is still waiting to produce the next.
    const key = `sse${Date.now()}`;
    const res = await fetch(h.url(`/stream?count=3&key=${key}`));
    expect(res.headers.get('content-type')).to.equal('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    const readUntil = async (want: string) => {
      while (!text.includes(want)) {
        const { done, value } = await withTimeout(reader.read(), 10_000, `"${want}" in the stream`);
        if (done) throw new Error(`the stream ended without "${want}": ${text}`);
        text += new TextDecoder().decode(value);
      }
    };
    await readUntil('data: 0 ');
    expect(text).to.not.include('data: 1 ');
    releaseHeld(`${key}-0`);
    await readUntil('data: 1 ');
    expect(text).to.not.include('data: 2 ');
    releaseHeld(`${key}-1`);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).to.match(/^data: 0 .*\n\ndata: 1 .*\n\ndata: 2 .*\n\n$/s);
  });

  it('aborts request.signal when the client goes away', async () => {
    const tag = `t${Date.now()}`;
    const ac = new AbortController();
    const p = fetch(h.url(`/pre/fix/wait-abort?tag=${tag}`), { signal: ac.signal }).catch(() => 'aborted');
    await waitFor(async () => (await h.pool('/pre/fix')).inFlight === 1, { what: 'the request to reach the worker' });
    ac.abort();
    expect(await p).to.equal('aborted');
    await waitFor(async () => ((await (await fetch(h.url('/pre/fix/aborts'))).json()) as string[]).includes(tag), {
      what: 'the app to see the abort',
    });
  });

  it('turns an exception into a 500 without the stack, and logs the stack', async () => {
    const res = await request(h.url('/throw'), { headers: { 'x-request-id': 'throw-1' } });
    expect(res.statusCode).to.equal(500);
    const text = await res.body.text();
    expect(text).to.not.match(/kaboom|at |\.mjs/);
    const line = log.lines.find((l) => l.includes('throw-1'));
    expect(line, log.lines.join('\n')).to.match(/kaboom in the app/);
    expect(line).to.match(/kitchen\.mjs/);
  });

  it('forwards console output and stdout writes to the error log, tagged with the mount', async () => {
    await (await fetch(h.url('/pre/fix/log'))).text();
    const seen = (re: RegExp) => log.lines.some((l) => re.test(l));
    await waitFor(() => seen(/raw stdout write/) && seen(/hello from the app 42/) && seen(/an app error line/), {
      what: 'the app output in the error log',
    });
    const hello = log.lines.find((l) => l.includes('hello from the app 42'));
    expect(hello, log.lines.join('\n')).to.match(/^info .*"mount":"\/pre\/fix"/);
    expect(log.lines.some((l) => /^error an app error line/.test(l))).to.equal(true);
    expect(log.lines.some((l) => /raw stdout write/.test(l))).to.equal(true);
  });
});
