// Connection limits as uWebSockets.js v20.30 enforces them under hostd: slow header blocks and
// idle keep-alive connections are closed after ~10 s; header blocks and the 431 helper.
import { expect } from 'chai';
import { rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { headerBytes, headersTooLarge, MAX_HEADER_BYTES } from '../native-front/http/limits.js';
import { makeSite, type Site, startHost, type TestHost } from './helpers/index.js';

/** Writes `text`, then waits for the server to close; resolves with what came back and when. */
function holdOpen(port: number, text: string): Promise<{ ms: number; reply: string }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const s = connect(port, '127.0.0.1');
    let reply = '';
    s.on('data', (d) => (reply += d));
    s.on('error', reject);
    s.on('close', () => resolve({ ms: Date.now() - t0, reply }));
    s.write(text);
    // A safety net, not a synchronisation: only a server that never closes reaches it.
    setTimeout(() => s.destroy(new Error('the server kept the connection open for 25 s')), 25_000).unref();
  });
}

describe('ops: limits', function () {
  this.timeout(30_000);
  let site: Site;
  let h: TestHost;
  before(async () => {
    site = await makeSite();
    h = await startHost([
      {
        serverName: ['*'],
        static: [{ url: '/', dir: join(site.root, 'public') }],
        apps: [{ url: '/app', module: site.appFile, pool: { threads: 1 } }],
      },
    ]);
  });
  after(async () => {
    await h?.close();
    if (site) await rm(site.root, { recursive: true, force: true });
  });

  it('closes a slow (incomplete) header block and an idle keep-alive connection after ~10 s', async () => {
    // Both run at once: the test costs one timeout, not two. The bounds are the feature (uWS's
    // ~10 s timeout): closing after 5 s proves the connection was not cut at
    // once; the upper bound only has to tell "closed by the timeout" from "never", so it is wide.
    const [slow, idle] = await Promise.all([
      holdOpen(h.port, 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: '),
      holdOpen(h.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
    ]);
    expect(slow.reply).to.equal('');
    expect(slow.ms).to.be.within(5_000, 24_000);
    expect(idle.reply).to.match(/^HTTP\/1\.1 200 OK/);
    expect(idle.ms).to.be.within(5_000, 24_000);
  });

  it('serves an app request with 8 KB of headers in one packet', async () => {
    const res = await request(h.url('/app/big'), { headers: { 'x-big': 'a'.repeat(8 * 1024) } });
    expect(res.statusCode).to.equal(200);
    await res.body.dump();
  });

  it('headerBytes counts the header block as on the wire', () => {
    expect(headerBytes(['host', 'x'])).to.equal('host: x\r\n'.length);
    expect(headersTooLarge(['x-big', 'a'.repeat(MAX_HEADER_BYTES)])).to.equal(true);
    expect(headersTooLarge(['host', 'example.com', 'accept', '*/*'])).to.equal(false);
  });

  it('answers 431 to an app request whose headers exceed MAX_HEADER_BYTES', async () => {
    const res = await request(h.url('/app/big'), { headers: { 'x-big': 'a'.repeat(MAX_HEADER_BYTES + 1) } });
    expect(res.statusCode).to.equal(431);
    await res.body.dump();
  });
});
