// The node (req, res) adapter: raw listeners, Express 5 and Koa run unmodified against fetch
// Requests; responses stream, cookies stay separate, bodies flow both ways, aborts propagate.
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { loadApp } from '../daemon/app/load.js';
import { stripMount } from '../daemon/app/node-adapter.js';
import type { AppContext, LoadedApp } from '../daemon/app/types.js';
import { sleep, waitFor, withTimeout } from './helpers/index.js';

const NODE = resolve('test/fixtures/node-apps');
const ctx = (mount = ''): AppContext => ({
  waitUntil() {},
  remoteAddress: '203.0.113.9',
  mount,
  requestId: 'r',
  upgrade: () => false,
  publish: () => 0,
});
const g = globalThis as Record<string, unknown>;

/** A request body produced lazily; counts how much was pulled. */
function lazyBody(chunkSize: number, chunks: number) {
  const state = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (state.pulled >= chunks) return c.close();
      state.pulled++;
      c.enqueue(new Uint8Array(chunkSize).fill(97));
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { stream, state };
}

describe('apps: node adapter', () => {
  let raw: LoadedApp;
  let express: LoadedApp;
  let koa: LoadedApp;
  before(async () => {
    raw = await loadApp(join(NODE, 'raw-listener.mjs'), { interface: 'auto' });
    express = await loadApp(join(NODE, 'express-app.mjs'), { interface: 'auto' });
    koa = await loadApp(join(NODE, 'koa-app.mjs'), { interface: 'auto' });
  });

  it('strips the mount prefix from req.url (PATH_INFO), keeping originalUrl', () => {
    expect(stripMount('/api/x?y=1', '/api')).to.equal('/x?y=1');
    expect(stripMount('/api', '/api')).to.equal('/');
    expect(stripMount('/api?q', '/api')).to.equal('/?q');
    expect(stripMount('/apiary', '/api')).to.equal('/apiary');
    expect(stripMount('/x', '')).to.equal('/x');
  });

  describe('raw listener', () => {
    it('sees method, url, headers and the client address', async () => {
      const res = await raw.fetch(
        new Request('http://site.test/api/info?q=1', { headers: { 'x-a': '1', cookie: 'c=1' } }),
        {},
        ctx('/api'),
      );
      const info = await res.json();
      expect(info.url).to.equal('/info?q=1');
      expect(info.originalUrl).to.equal('/api/info?q=1');
      expect(info.method).to.equal('GET');
      expect(info.remoteAddress).to.equal('203.0.113.9');
      expect(info.connectionAddress).to.equal('203.0.113.9');
      expect(info.headers).to.deep.include({ host: 'site.test', 'x-a': '1', cookie: 'c=1' });
      expect(info.httpVersion).to.equal('1.1');
    });

    it('streams res.write() to the consumer before res.end()', async () => {
      const res = await raw.fetch(new Request('http://s.test/stream'), {}, ctx());
      const reader = res.body!.getReader();
      // The app ends the response only when /release is asked for, below: this read can only
      // complete if the first write was streamed.
      const first = await withTimeout(reader.read(), 10_000, 'the first chunk, before res.end()');
      expect(new TextDecoder().decode(first.value)).to.equal('first\n');
      expect(await (await raw.fetch(new Request('http://s.test/release'), {}, ctx())).text()).to.equal('1');
      let rest = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        rest += new TextDecoder().decode(value);
      }
      expect(rest).to.equal('second\n');
    });

    it('keeps several Set-Cookie headers apart and honours statusCode/statusMessage', async () => {
      const res = await raw.fetch(new Request('http://s.test/cookies'), {}, ctx());
      expect(res.status).to.equal(201);
      expect(res.statusText).to.equal('Made');
      expect(res.headers.getSetCookie()).to.deep.equal(['a=1; Path=/', 'b=2; HttpOnly', 'c=3']);
      expect(res.headers.has('connection')).to.equal(false);
      expect(res.headers.has('transfer-encoding')).to.equal(false);
      expect(await res.text()).to.equal('ok');
    });

    it('reads a multi-MB request body as a stream', async () => {
      const { stream, state } = lazyBody(256 * 1024, 40); // 10 MiB
      const req = new Request('http://s.test/upload', { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
      const res = await raw.fetch(req, {}, ctx());
      const body = await res.json();
      expect(body.bytes).to.equal(10 * 1024 * 1024);
      expect(body.complete).to.equal(true);
      expect(body.chunks).to.be.at.least(40);
      expect(state.pulled).to.equal(40);
    });

    it('pulls the body on demand: an endless upload is not buffered', async () => {
      // The listener's 404 path never reads the body: it must still answer, the body must not
      // have been drained into memory, and the unread rest is cancelled once the response ends.
      const { stream, state } = lazyBody(64 * 1024, 1_000_000);
      const req = new Request('http://s.test/hello', { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
      const res = await raw.fetch(req, {}, ctx());
      expect(res.status).to.equal(404);
      await res.text();
      expect(state.pulled).to.be.below(100);
      await waitFor(() => state.cancelled, { what: 'the unread body to be cancelled' });
    });

    it('applies backpressure: a slow consumer makes res.write() return false, then drain', async () => {
      g.__lastBigFalses = undefined;
      const res = await raw.fetch(new Request('http://s.test/big'), {}, ctx());
      const reader = res.body!.getReader();
      let bytes = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        bytes += value.byteLength;
        if (bytes < 1024 * 1024) await sleep(2); // a slow consumer is the feature under test
      }
      expect(bytes).to.equal(80 * 64 * 1024);
      expect(g.__lastBigFalses).to.be.a('number').and.above(0);
    });

    it('reports a client abort as req "aborted" and res "close"', async () => {
      g.__abortSeen = undefined;
      const ac = new AbortController();
      const res = await raw.fetch(new Request('http://s.test/abort', { signal: ac.signal }), {}, ctx());
      const reader = res.body!.getReader();
      const first = await reader.read();
      expect(new TextDecoder().decode(first.value)).to.contain('data: hi');
      ac.abort();
      await waitFor(() => g.__abortSeen, { what: 'the listener to see the abort' });
      expect(g.__abortSeen).to.deep.equal({ resClose: true, reqAborted: true });
      const after = await reader.read().then(
        () => 'read',
        () => 'rejected',
      );
      expect(after).to.equal('rejected');
    });

    it('rejects when the listener throws, and gives 204 a null body', async () => {
      const err = await Promise.resolve(raw.fetch(new Request('http://s.test/throw'), {}, ctx())).then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.message).to.equal('listener threw');
      const empty = await raw.fetch(new Request('http://s.test/empty'), {}, ctx());
      expect(empty.status).to.equal(204);
      expect(empty.body).to.equal(null);
    });
  });

  describe('Express 5', () => {
    it('routes relative to the mount; req.ip is the client; cookies stay apart', async () => {
      const res = await express.fetch(new Request('http://s.test/api/hello'), {}, ctx('/api'));
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^application\/json/);
      expect(res.headers.getSetCookie()).to.deep.equal(['s1=x; Path=/', 's2=y; Path=/']);
      expect(await res.json()).to.deep.equal({
        hello: 'express',
        ip: '203.0.113.9',
        url: '/hello',
        originalUrl: '/api/hello',
        baseUrl: '/api',
        path: '/hello',
      });
    });

    it('parses a JSON body with express.json()', async () => {
      const res = await express.fetch(
        new Request('http://s.test/api/echo', {
          method: 'POST',
          body: JSON.stringify({ a: [1, 2], b: 'x' }),
          headers: { 'content-type': 'application/json' },
        }),
        {},
        ctx('/api'),
      );
      expect(res.status).to.equal(201);
      expect(await res.json()).to.deep.equal({ got: { a: [1, 2], b: 'x' }, type: 'application/json' });
    });

    it('streams res.write()', async () => {
      const res = await express.fetch(new Request('http://s.test/stream'), {}, ctx());
      const reader = res.body!.getReader();
      // The route ends only on /release: reading "one" first proves the write was streamed.
      const first = await withTimeout(reader.read(), 10_000, 'the first chunk, before res.end()');
      expect(new TextDecoder().decode(first.value)).to.equal('one\n');
      expect(await (await express.fetch(new Request('http://s.test/release'), {}, ctx())).text()).to.equal('1');
      const second = await reader.read();
      expect(new TextDecoder().decode(second.value)).to.equal('two\n');
    });

    it('a route error becomes Express’s own 500; unknown routes 404', async () => {
      const err = await express.fetch(new Request('http://s.test/err'), {}, ctx());
      expect(err.status).to.equal(500);
      await err.text();
      const missing = await express.fetch(new Request('http://s.test/nope'), {}, ctx());
      expect(missing.status).to.equal(404);
      await missing.text();
    });
  });

  describe('Koa', () => {
    it('runs app.callback(): body, ip, url and two cookies', async () => {
      expect(koa.interface).to.equal('node');
      const res = await koa.fetch(new Request('http://s.test/k/json', { method: 'GET' }), {}, ctx('/k'));
      expect(res.headers.getSetCookie()).to.deep.equal(['k1=v1; path=/; httponly', 'k2=v2; path=/; httponly']);
      expect(await res.json()).to.deep.equal({ koa: true, ip: '203.0.113.9', url: '/json', method: 'GET' });
    });

    it('reads the request body with for await', async () => {
      const res = await koa.fetch(new Request('http://s.test/body', { method: 'POST', body: new Uint8Array(300_000) }), {}, ctx());
      expect(await res.json()).to.deep.equal({ bytes: 300_000 });
    });
  });
});
