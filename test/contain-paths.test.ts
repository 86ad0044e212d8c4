// A mount is a boundary (issue 18 item 7): requests are routed on the normalised path (dot
// segments, "%2e", repeated slashes, "\"), as nginx does before it matches locations, and every
// part (routing, static files, the response cache, WebSockets, the app) gets that one path. Before,
// /c/../n/x was routed to the /c mount by its raw prefix while the app (WHATWG URL) saw /n/x.
import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { exchange, VICTIM_APP } from './fixtures/contain/net.js';
import { startHost, type TestHost } from './helpers/host.js';
import { OpenClients } from './helpers/ws.js';

const CHAT = resolve('test/fixtures/ws/chat.mjs');

/** Ways of writing "/c/../" (and friends) in front of a path. */
const CLIMBS = ['/c/../', '/c/%2e%2e/', '/c/%2E%2E/', '/c/.%2e/', '/c/%2e./', '/c/./../', '/c//../', '/c/x/../../', '/c/..\\'];

describe('contain: routing on the normalised path', function () {
  this.timeout(60_000);
  let root: string;
  let h: TestHost;
  const open = new OpenClients();

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hostd-contain-paths-'));
    await mkdir(join(root, 'www'));
    await writeFile(join(root, 'www', 'a.txt'), 'static a\n');
    h = await startHost([
      {
        serverName: ['a.test'],
        static: [{ url: '/s', dir: join(root, 'www') }],
        apps: [
          { url: '/c', module: VICTIM_APP, pool: { threads: 1 } },
          { url: '/n', module: VICTIM_APP, pool: { threads: 1 } },
          { url: '/k', module: VICTIM_APP, cache: { maxSize: '1mb' }, pool: { threads: 1 } },
          { url: '/chat', module: CHAT, pool: { threads: 1 } },
        ],
      },
    ]);
  });
  afterEach(() => open.terminateAll());
  after(async () => {
    await h?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** A GET sent byte for byte as written (no client would keep "..", "\" or "//"). */
  const get = async (path: string) => {
    const c = await exchange(h.port, `GET ${path} HTTP/1.1\r\nHost: a.test\r\n\r\n`);
    c.destroy();
    return c.responses[0];
  };
  const seen = async (mount: string): Promise<string[]> =>
    (await (await request(h.url(`${mount}/seen`), { headers: { host: 'a.test' } })).body.json()) as string[];

  it('every way of climbing out of /c reaches the /n mount, whose app sees the path routed; /c sees none of them', async () => {
    for (const [i, climb] of CLIMBS.entries()) {
      const r = await get(`${climb}n/url?i=${i}`);
      expect(r.status, climb).to.equal(200);
      const app = JSON.parse(r.body) as { pathname: string; search: string };
      expect(app.pathname, climb).to.equal('/url');
      expect(app.search, climb).to.equal(`?i=${i}`);
    }
    expect(await seen('/c')).to.not.include('/n/url');
    expect((await seen('/n')).filter((p) => p === '/url')).to.have.length(CLIMBS.length);
  });

  it('repeated slashes and "." segments route as the plain path', async () => {
    for (const path of ['/n//url', '//n/url', '/n/./url', '/./n/url', '/n/%2e/url']) {
      const r = await get(path);
      expect(r.status, path).to.equal(200);
      expect((JSON.parse(r.body) as { pathname: string }).pathname, path).to.equal('/url');
    }
  });

  it('static files: a climb out of an app mount into a static one serves the file; out of a static one reaches the app', async () => {
    for (const climb of CLIMBS) {
      const r = await get(`${climb}s/a.txt`);
      expect([r.status, r.body], climb).to.deep.equal([200, 'static a\n']);
    }
    const r = await get('/s/%2e%2e/n/url');
    expect(r.status).to.equal(200);
    expect((JSON.parse(r.body) as { pathname: string }).pathname).to.equal('/url');
  });

  it('the response cache: every spelling of a path is one entry', async () => {
    expect((await get('/k/cached')).headers['x-cache']).to.equal('MISS');
    for (const path of ['/k//cached', '/c/../k/cached', '/k/./cached', '/k/%2e/cached']) {
      const r = await get(path);
      expect([r.status, r.headers['x-cache']], path).to.deep.equal([200, 'HIT']);
    }
  });

  it('WebSocket upgrades route on the normalised path too', async () => {
    for (const climb of ['/c/../', '/c/%2e%2e/', '/s/../']) {
      const c = await exchange(
        h.port,
        `GET ${climb}chat/x HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        0,
      );
      await c.until((x) => x.text.includes('\r\n\r\n'));
      expect(c.text, climb).to.match(/^HTTP\/1\.1 101 /);
      c.destroy();
    }
  });

  it('a path that climbs above the root gets 400, on every kind of route', async () => {
    for (const path of ['/..', '/../n/url', '/%2e%2e/n/url', '/n/../../n/url', '/s/../../s/a.txt', '/k/%2E%2E/%2e%2e/k/cached']) {
      const r = await get(path);
      expect(r.status, path).to.equal(400);
    }
  });
});
