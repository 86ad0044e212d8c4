// The direct path of node-style apps (daemon/worker/node-exchange.ts, daemon/app/node-direct.ts)
// over real sockets through a real hostd: every form of writeHead, HEAD/204/304, flushHeaders,
// server-sent events compressed in the worker and still arriving one by one, informational
// responses dropped, backpressure, a request body read at the app's pace, the client going away
// ('aborted'/'close'), response-cache fills, maxBodySize and requestTimeout.
import { connect } from 'node:net';
import zlib from 'node:zlib';
import { resolve } from 'node:path';
import { expect } from 'chai';
import { request } from 'undici';
import { startHost, type TestHost, waitFor, withTimeout } from './helpers/index.js';

const APP = resolve('test/fixtures/node-apps/direct.mjs');

describe('apps: the direct path of node-style apps (socket)', function () {
  this.timeout(60_000);
  let h: TestHost;

  before(async () => {
    h = await startHost([
      {
        serverName: ['*'],
        apps: [
          { url: '/n', module: APP, pool: { threads: 1 }, compression: false },
          { url: '/z', module: APP, pool: { threads: 1 } },
          { url: '/c', module: APP, pool: { threads: 1 }, cache: { maxSize: '1mb' }, compression: false },
          { url: '/t', module: APP, pool: { threads: 1, requestTimeout: '1s' }, compression: false, maxBodySize: '1mb' },
        ],
      },
    ]);
  });
  after(() => h?.close());

  const get = (path: string, init: Parameters<typeof request>[1] = {}) => request(h.url(path), init);
  const text = async (path: string, init: Parameters<typeof request>[1] = {}) => (await get(path, init)).body.text();
  const state = async (mount: string) =>
    JSON.parse(await text(`${mount}/state`)) as { events: string[]; bigFalses: number; heldBuffered: number; cachedCalls: number };

  it('every writeHead form: status, reason, headers as values, several Set-Cookie kept apart', async () => {
    const object = await get('/n/form?form=object');
    expect(object.statusCode).to.equal(201);
    expect(object.headers['x-form']).to.equal('object');
    expect(object.headers['set-cookie']).to.deep.equal(['a=1', 'b=2']);
    // As node:http writes an array value: one line per element (a fetch Headers would join them).
    expect(object.headers['x-multi']).to.deep.equal(['m1', 'm2']);
    expect(await object.body.text()).to.equal('form object');

    const reason = await get('/n/form?form=reason');
    expect(reason.statusCode).to.equal(202);
    expect(reason.headers['x-form']).to.equal('reason');
    await reason.body.text();

    const flat = await get('/n/form?form=flat');
    expect(flat.statusCode).to.equal(203);
    expect(flat.headers['set-cookie']).to.deep.equal(['c=3', 'd=4']);
    await flat.body.text();

    const pairs = await get('/n/form?form=pairs');
    expect(pairs.headers['x-form']).to.equal('pairs');
    expect(pairs.headers['x-num']).to.equal('7');
    await pairs.body.text();

    const merged = await get('/n/form?form=merged');
    expect(merged.headers['x-early']).to.equal('set');
    expect(merged.headers['x-form']).to.equal('merged');
    expect(merged.headers['set-cookie']).to.equal('e=5');
    await merged.body.text();

    const implicit = await get('/n/form?form=implicit');
    expect(implicit.statusCode).to.equal(209);
    expect(implicit.headers['x-form']).to.equal('implicit');
    expect(await implicit.body.text()).to.equal('form implicit');
  });

  it('a header value node:http refuses is a clean 500, and the app keeps serving', async () => {
    const bad = await get('/n/form?form=bad');
    expect(bad.statusCode).to.equal(500);
    expect(await bad.body.text()).to.not.match(/at .*\.m?js/);
    expect(await text('/n/form?form=object')).to.equal('form object');
  });

  it('HEAD gets the headers GET would, without a body; 204 and 304 have none', async () => {
    const head = await get('/n/text', { method: 'HEAD' });
    expect(head.statusCode).to.equal(200);
    expect(head.headers['content-length']).to.equal(String(22_400));
    expect(head.headers.etag).to.equal('"t1"');
    expect(await head.body.text()).to.equal('');

    const empty = await get('/n/empty');
    expect(empty.statusCode).to.equal(204);
    expect(empty.headers['x-empty']).to.equal('1');
    expect(await empty.body.text()).to.equal('');

    const notModified = await get('/n/text', { headers: { 'if-none-match': '"t1"' } });
    expect(notModified.statusCode).to.equal(304);
    expect(notModified.headers.etag).to.equal('"t1"');
    expect(await notModified.body.text()).to.equal('');
  });

  it('flushHeaders() before the body exists: the head (held by the front until the first body bytes) and the body arrive', async () => {
    const pending = get('/n/flush');
    await waitFor(async () => (await text('/n/release?gate=flush')) === 'released', { what: 'the flushed request in the app' });
    const res = await withTimeout(pending, 10_000, 'the answer after flushHeaders()');
    expect(res.headers['x-flushed']).to.equal('1');
    expect(await res.body.text()).to.equal('after flush');
  });

  it('informational responses (100, 102, 103) are dropped; the final answer arrives', async () => {
    const res = await get('/n/informational');
    expect(res.statusCode).to.equal(200);
    expect(await res.body.text()).to.equal('final answer');
  });

  it('a 5 MB response written with backpressure: write() returns false and drain comes from the front', async () => {
    const res = await get('/n/big');
    const buf = Buffer.from(await res.body.arrayBuffer());
    expect(buf.length).to.equal(80 * 64 * 1024);
    expect(buf.every((b) => b === 120)).to.equal(true);
    expect((await state('/n')).bigFalses).to.be.greaterThan(0);
  });

  it('a request body is pulled at the app’s pace: unread, it is not buffered in the worker', async () => {
    const size = 16 * 1024 * 1024;
    const upload = get('/n/hold', { method: 'POST', body: Buffer.alloc(size, 7) });
    // The request reached the app (it holds it unread), and stays held: the worker pulls the body only as the app reads.
    await waitFor(async () => (await state('/n')).heldBuffered >= 0, { what: 'the held request' });
    for (let i = 0; i < 10; i++) expect((await state('/n')).heldBuffered).to.be.at.most(64 * 1024);
    expect(await text('/n/release?gate=hold')).to.equal('released');
    const res = await upload;
    expect(await res.body.json()).to.deep.equal({ bytes: size, complete: true });
  });

  it('a body over maxBodySize is refused with 413', async () => {
    const res = await get('/t/hold', { method: 'POST', body: Buffer.alloc(2 * 1024 * 1024, 1) });
    expect(res.statusCode).to.equal(413);
    await res.body.text();
  });

  it("the client going away: req 'aborted' and 'close', res 'close' (no 'finish'), the socket 'close'", async () => {
    const sock = connect(new URL(h.url('/')).port as unknown as number, '127.0.0.1');
    await new Promise<void>((ok) => sock.once('connect', ok));
    sock.write('GET /n/abort HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise<void>((ok) => sock.once('data', () => ok())); // the head and the first event
    sock.destroy();
    const seen = await waitFor(
      async () => {
        const s = await state('/n');
        return s.events.includes('res close') && s.events.includes('req close') ? s.events : null;
      },
      { what: "the app's close events" },
    );
    expect(seen).to.include.members(['req aborted', 'req close', 'res close', 'socket close']);
    expect(seen).to.not.include('res finish');
  });

  describe('compression in the worker', () => {
    it('a whole response is compressed; HEAD says what GET would send', async () => {
      const res = await get('/z/text', { headers: { 'accept-encoding': 'br' } });
      expect(res.headers['content-encoding']).to.equal('br');
      expect(res.headers.vary).to.match(/accept-encoding/i);
      expect(res.headers.etag).to.equal('W/"t1"');
      const body = zlib.brotliDecompressSync(Buffer.from(await res.body.arrayBuffer())).toString();
      expect(body.length).to.equal(22_400);
      const head = await get('/z/text', { method: 'HEAD', headers: { 'accept-encoding': 'br' } });
      expect(head.headers['content-encoding']).to.equal('br');
      expect(head.headers['content-length']).to.equal(undefined);
      await head.body.text();
    });

    it('server-sent events arrive one by one through gzip', async () => {
      const res = await get('/z/sse', { headers: { 'accept-encoding': 'gzip' } });
      expect(res.headers['content-encoding']).to.equal('gzip');
      const gunzip = zlib.createGunzip();
      let got = '';
      gunzip.on('data', (d: Buffer) => (got += d.toString()));
      res.body.on('data', (d: Buffer) => gunzip.write(d));
      const ended = new Promise<void>((ok) => gunzip.on('end', () => ok()));
      res.body.on('end', () => gunzip.end());
      await waitFor(() => got === 'data: 0\n\n', { what: 'event 0 alone' });
      await text('/z/release?gate=sse1');
      await waitFor(() => got === 'data: 0\n\ndata: 1\n\n', { what: 'event 1 alone' });
      await text('/z/release?gate=sse2');
      await ended;
      expect(got).to.equal('data: 0\n\ndata: 1\n\ndata: 2\n\n');
    });
  });

  it('fills the response cache: the second request is a HIT, the app is called once', async () => {
    const first = await get('/c/cached');
    expect(first.headers['x-cache']).to.equal('MISS');
    expect(await first.body.text()).to.equal('call 1');
    const second = await get('/c/cached');
    expect(second.headers['x-cache']).to.equal('HIT');
    expect(await second.body.text()).to.equal('call 1');
    expect((await state('/c')).cachedCalls).to.equal(1);
  });

  it('a request over requestTimeout gets 504', async () => {
    const res = await get('/t/never');
    expect(res.statusCode).to.equal(504);
    await res.body.text();
  });
});
