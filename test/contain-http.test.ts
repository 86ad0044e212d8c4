// HTTP-level containment (issue 9, items 5 and 6; issue 10's long request target): what a client
// can send that must never reach an app, or reach it as something other than what routing and the
// access log saw. Every case sends the attack over a raw socket (no client library would send
// these) and asserts the contained outcome; the uWS v20.30 protocol limits that docs/operations.md
// lists in its table are checked here too, so the table stays true.
import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { startHost, type TestHost } from './helpers/host.js';
import { exchange, poll, RawConn, VICTIM_APP } from './fixtures/contain/net.js';

const BROKEN_APP = fileURLToPath(new URL('./fixtures/apps/broken.mjs', import.meta.url));

interface AccessLine {
  vhost: string;
  mount: string;
  path: string;
  host: string;
  status: number;
}

describe('contain: HTTP requests that must not reach an app as sent', function () {
  this.timeout(30_000);
  let root: string;
  let h: TestHost;
  let accessFile: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hostd-contain-http-'));
    await mkdir(join(root, 'www'));
    await writeFile(join(root, 'www', 'a.txt'), 'static a\n');
    accessFile = join(root, 'access.log');
    h = await startHost(
      [
        {
          serverName: ['a.test'],
          static: [{ url: '/s', dir: join(root, 'www') }],
          apps: [
            { url: '/echo', module: VICTIM_APP, pool: { threads: 1 } },
            { url: '/c', module: VICTIM_APP, cache: { maxSize: '1mb' }, pool: { threads: 1 } },
            { url: '/broken', module: BROKEN_APP, pool: { threads: 1 } },
          ],
        },
        { serverName: ['*'], apps: [{ url: '/', module: VICTIM_APP, pool: { threads: 1 } }] },
      ],
      { accessLog: accessFile, logFormat: 'json' },
    );
  });
  after(async () => {
    await h?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** The paths the a.test app (mount /echo) has been asked for. */
  const seenByApp = async (host = 'a.test', prefix = '/echo'): Promise<string[]> => {
    const res = await request(h.url(`${prefix}/seen`), { headers: { host } });
    return (await res.body.json()) as string[];
  };
  const accessLines = async (): Promise<AccessLine[]> =>
    (await readFile(accessFile, 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AccessLine);

  describe('the Host header (item 5)', () => {
    const BAD_HOSTS = [
      'a.test/admin?x=', // the issue's: the app saw pathname /admin while the log said /echo/public
      'b.test/', // the issue's: routed to the default vhost, the app saw b.test
      'a.test/',
      'a.test?x',
      'a.test#frag',
      'user@a.test',
      'a.test:80:80',
      'a.test:8o',
      'a test',
      '%61.test',
      'a.test\\admin',
      '[::1',
      'a.test:123456',
    ];

    it('answers 400 to every Host that is not uri-host [":" port], and no app sees those requests', async () => {
      for (const host of BAD_HOSTS) {
        const c = await exchange(h.port, `GET /echo/public?from=${encodeURIComponent(host)} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        expect(
          c.responses.map((r) => r.status),
          `Host: ${host}`,
        ).to.deep.equal([400]);
        expect(c.responses[0].headers.connection).to.equal('close');
        c.destroy();
      }
      for (const host of ['a.test', 'other.test']) {
        const seen = [...(await seenByApp(host, host === 'a.test' ? '/echo' : ''))];
        expect(
          seen.filter((p) => p === '/public' || p === '/echo/public' || p === '/admin'),
          `the app behind ${host}`,
        ).to.deep.equal([]);
      }
    });

    it('request.url, routing and the access log agree on host and path for every valid Host form', async () => {
      const cases = [
        { host: 'a.test', vhost: 'a.test', prefix: '/echo' },
        { host: 'A.Test', vhost: 'a.test', prefix: '/echo' },
        { host: 'a.test:8080', vhost: 'a.test', prefix: '/echo' },
        { host: 'a.test.', vhost: 'a.test', prefix: '/echo' },
        { host: 'b.test', vhost: '*', prefix: '' },
        { host: '127.0.0.1:9', vhost: '*', prefix: '' },
        { host: '[::1]:8080', vhost: '*', prefix: '' },
      ];
      for (const { host, vhost, prefix } of cases) {
        const path = `${prefix}/url?case=${encodeURIComponent(host)}`;
        const c = await exchange(h.port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        expect(
          c.responses.map((r) => r.status),
          `Host: ${host}`,
        ).to.deep.equal([200]);
        const seen = JSON.parse(c.responses[0].body) as { url: string; host: string; pathname: string; search: string };
        c.destroy();
        // The app's URL names the host the client sent (WHATWG URL lowercases it) and the path routed.
        expect(new URL(seen.url).host, `Host: ${host}`).to.equal(new URL(`http://${host}/`).host);
        expect(seen.pathname).to.equal('/url');
        expect(seen.search).to.equal(`?case=${encodeURIComponent(host)}`);
        const line = await poll(async () => (await accessLines()).find((l) => l.path === path), `access log line for ${path}`);
        expect(line).to.include({ vhost, host, status: 200 });
        expect(line.mount).to.equal(prefix || '/');
      }
    });
  });

  describe('request smuggling forms (item 6)', () => {
    const SMUGGLED = 'GET /echo/SMUGGLED HTTP/1.1\r\nHost: a.test\r\n\r\n';
    /** Each form, as a request whose body (by one reading or another) hides SMUGGLED. */
    const FORMS: Record<string, (target: string) => string> = {
      'two differing Content-Length (first shorter)': (t) =>
        `POST ${t} HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nContent-Length: ${5 + SMUGGLED.length}\r\n\r\nhello${SMUGGLED}`,
      'two differing Content-Length (first longer)': (t) =>
        `POST ${t} HTTP/1.1\r\nHost: a.test\r\nContent-Length: ${5 + SMUGGLED.length}\r\nContent-Length: 5\r\n\r\nhello${SMUGGLED}`,
      'two equal Content-Length': (t) =>
        `POST ${t} HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello${SMUGGLED}`,
      'Content-Length "+5"': (t) => `POST ${t} HTTP/1.1\r\nHost: a.test\r\nContent-Length: +5\r\n\r\nhello${SMUGGLED}`,
      'Content-Length "0x5"': (t) => `POST ${t} HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0x5\r\n\r\nhello${SMUGGLED}`,
      'Content-Length "5, 5"': (t) => `POST ${t} HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5, 5\r\n\r\nhello${SMUGGLED}`,
      ...Object.fromEntries(
        ['chunked, gzip', 'gzip, chunked', 'xchunked', 'chunkedx', 'identity', 'chunked;q=1'].map((te) => [
          `Transfer-Encoding "${te}"`,
          (t: string) => `POST ${t} HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: ${te}\r\n\r\n5\r\nhello\r\n0\r\n\r\n${SMUGGLED}`,
        ]),
      ),
      'two Transfer-Encoding: chunked': (t) =>
        `POST ${t} HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n${SMUGGLED}`,
      'Transfer-Encoding and Content-Length': (t) =>
        `POST ${t} HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n${SMUGGLED}`,
      'a GET with two Content-Length': (t) =>
        `GET ${t} HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    };
    const TARGETS = {
      'an app mount': '/echo/hello',
      'a response-cache hit': '/c/cached',
      'an app that failed to load (503)': '/broken/x',
      'a static mount': '/s/a.txt',
      'no mount (the router answers 404)': '/nothing-here',
    };
    before(async () => {
      // The cached answer is in the cache: later GETs are hits, answered by the front in the handler.
      for (let i = 0; i < 2; i++) {
        const res = await request(h.url('/c/cached'), { headers: { host: 'a.test' } });
        expect(res.statusCode).to.equal(200);
        await res.body.dump();
      }
      const hit = await exchange(h.port, 'GET /c/cached HTTP/1.1\r\nHost: a.test\r\n\r\n');
      expect(hit.responses[0].headers['x-cache']).to.equal('HIT');
      hit.destroy();
      const broken = await exchange(h.port, 'GET /broken/x HTTP/1.1\r\nHost: a.test\r\n\r\n');
      expect(broken.responses[0].status).to.equal(503);
      broken.destroy();
    });

    for (const [where, target] of Object.entries(TARGETS)) {
      it(`to ${where}: every form is refused (400 or closed by uWS) and the connection closes; nothing after it runs as a request`, async () => {
        for (const [name, make] of Object.entries(FORMS)) {
          // 1. The attack as one write: the smuggled request is in the same read as the refused one.
          const a = await exchange(h.port, make(target), 2);
          await a.closed;
          expect(
            a.responses.map((r) => r.status),
            `${name}, one write`,
          ).to.satisfy((s: number[]) => s.length === 0 || (s.length === 1 && s[0] === 400));
          // 2. The refused request alone, then the smuggled one once the refusal came back.
          const b = await exchange(h.port, make(target).slice(0, -SMUGGLED.length));
          if (b.responses.length > 0) {
            expect(
              b.responses.map((r) => r.status),
              `${name}, alone`,
            ).to.deep.equal([400]);
            expect(b.responses[0].headers.connection).to.equal('close');
          }
          b.send(SMUGGLED);
          await b.closed;
          expect(b.responses.length, `${name}: a response after the refusal`).to.be.at.most(1);
        }
        expect(await seenByApp()).to.not.include('/SMUGGLED');
      });
    }

    it('a correctly framed request with a body is still served, on a connection that stays open', async () => {
      const c = await exchange(
        h.port,
        `POST /echo/echo HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
      );
      expect(c.responses.map((r) => [r.status, r.body])).to.deep.equal([[200, '{"bytes":5}']]);
      c.send(`POST /echo/echo HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n\r\nabc`);
      await c.responsesIn(2);
      expect(c.responses.map((r) => [r.status, r.body])[1]).to.deep.equal([200, '{"bytes":3}']);
      expect(c.isClosed).to.equal(false);
      c.destroy();
    });

    it('bare-LF chunk framing: uWS decodes it (hostd sees only the decoded body; documented), and pipelined bytes behind it close the connection', async () => {
      // hostd cannot refuse this form: uWS decodes chunks before JavaScript sees any byte.
      const c = await exchange(h.port, `POST /echo/echo HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n`);
      expect(c.responses.map((r) => [r.status, r.body])).to.deep.equal([[200, '{"bytes":5}']]);
      c.destroy();
      const d = await exchange(
        h.port,
        `POST /echo/echo HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n${SMUGGLED}`,
        2,
      );
      await d.closed;
      expect(d.responses).to.deep.equal([]);
      expect(await seenByApp()).to.not.include('/SMUGGLED');
    });
  });

  describe('long request targets (issue 10)', () => {
    for (const [what, target] of [
      ['a 32 KiB query', `/echo/hello?q=${'a'.repeat(32 * 1024)}`],
      ['a 32 KiB path', `/echo/LONG${'a'.repeat(32 * 1024)}`],
    ] as const) {
      it(`${what} gets 414 and never reaches the app`, async () => {
        const c = await exchange(h.port, `GET ${target} HTTP/1.1\r\nHost: a.test\r\n\r\n`);
        expect(c.responses.map((r) => r.status)).to.deep.equal([414]);
        await c.closed;
        expect((await seenByApp()).filter((p) => p.startsWith('/LONG') || p.length > 1000)).to.deep.equal([]);
      });
    }
  });

  describe('protocol limits of the pinned uWS build (the table in docs/operations.md)', () => {
    /**
     * Sends `data` on one connection, then a good request on another and waits for its answer:
     * by then the front has read the first, so "nothing came back on it" is an observation, not a
     * guess after a sleep. Returns the first connection.
     */
    async function noAnswer(data: string): Promise<RawConn> {
      const bad = new RawConn(h.port).send(data);
      await new Promise((resolve) => bad.socket.once('connect', resolve));
      const good = await exchange(h.port, 'GET /echo/hello HTTP/1.1\r\nHost: a.test\r\n\r\n');
      expect(good.responses.map((r) => r.status)).to.deep.equal([200]);
      good.destroy();
      expect(bad.text, JSON.stringify(data.slice(0, 60))).to.equal('');
      return bad;
    }

    it('HTTP/1.0 requests get no answer (the connection is held until uWS times it out)', async () => {
      (await noAnswer('GET /echo/hello HTTP/1.0\r\nHost: a.test\r\n\r\n')).destroy();
      (await noAnswer('GET /s/a.txt HTTP/1.0\r\n\r\n')).destroy();
    });

    it('a request without Host, an absolute-form target, obs-fold and bare-LF header lines get no answer', async () => {
      for (const data of [
        'GET /echo/hello HTTP/1.1\r\n\r\n',
        'GET http://a.test/echo/hello HTTP/1.1\r\nHost: a.test\r\n\r\n',
        'GET /echo/hello HTTP/1.1\r\nHost: a.test\r\nX-Folded: a\r\n b\r\n\r\n',
        'GET /echo/hello HTTP/1.1\nHost: a.test\n\n',
      ])
        (await noAnswer(data)).destroy();
    });

    it('a chunk extension (5;ext=1) gets no answer', async () => {
      (
        await noAnswer('POST /echo/echo HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\n\r\n')
      ).destroy();
    });

    it('a header value is read as UTF-8; one that is not UTF-8 is cut at its first byte over 0x7F', async () => {
      const cases: Array<[Buffer, string]> = [
        [Buffer.from('café au lait', 'utf8'), 'café au lait'],
        [Buffer.from('café', 'latin1'), 'caf'],
        [Buffer.concat([Buffer.from('café ', 'utf8'), Buffer.from('ñ', 'latin1')]), 'caf'],
      ];
      for (const [bytes, seen] of cases) {
        const head = Buffer.from('GET /echo/header?name=x-word HTTP/1.1\r\nHost: a.test\r\nX-Word: ');
        const c = await exchange(h.port, Buffer.concat([head, bytes, Buffer.from('\r\n\r\n')]));
        expect(c.responses.map((r) => r.status)).to.deep.equal([200]);
        // (the raw reader reads bytes as Latin-1: back to bytes, then UTF-8)
        expect(JSON.parse(Buffer.from(c.responses[0].body, 'latin1').toString('utf8'))).to.equal(seen);
        c.destroy();
      }
    });

    it('more than 48 request header fields get no answer; 48 are served', async () => {
      // uWS's header table has 50 slots, two of them its own: 48 fields, Host included.
      const fields = (n: number) => Array.from({ length: n - 1 }, (_, i) => `X-H${i}: ${i}\r\n`).join('');
      (await noAnswer(`GET /echo/hello HTTP/1.1\r\nHost: a.test\r\n${fields(49)}\r\n`)).destroy();
      const c = await exchange(h.port, `GET /echo/hello HTTP/1.1\r\nHost: a.test\r\n${fields(48)}\r\n`);
      expect(c.responses.map((r) => r.status)).to.deep.equal([200]);
      c.destroy();
    });

    it('methods other than the nine standard ones (PURGE, PROPFIND) close the connection without an answer', async () => {
      for (const method of ['PURGE', 'PROPFIND']) {
        const c = new RawConn(h.port).send(`${method} /echo/hello HTTP/1.1\r\nHost: a.test\r\n\r\n`);
        await c.closed;
        expect(c.text, method).to.equal('');
      }
      const c = await exchange(h.port, 'OPTIONS /echo/hello HTTP/1.1\r\nHost: a.test\r\n\r\n');
      expect(c.responses.map((r) => r.status)).to.deep.equal([200]);
      c.destroy();
    });

    it('a request pipelined behind an app response closes the connection unanswered; behind cached static hits it is answered', async () => {
      const req = (p: string) => `GET ${p} HTTP/1.1\r\nHost: a.test\r\n\r\n`;
      const c = await exchange(h.port, req('/echo/hello') + req('/echo/hello'), 2);
      await c.closed;
      expect(c.responses).to.deep.equal([]);
      await exchange(h.port, req('/s/a.txt')); // now in the memory cache
      const s = await exchange(h.port, req('/s/a.txt') + req('/s/a.txt') + req('/s/a.txt'), 3);
      expect(s.responses.map((r) => r.status)).to.deep.equal([200, 200, 200]);
      s.destroy();
    });
  });
});
