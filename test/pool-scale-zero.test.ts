// A pool scaled to zero (minThreads: 0) starts no worker until its first request: a host of many
// such sites costs no worker per site at start (issue 19's memory goals), and the first request
// is served by a worker started for it. An app that fails to load is found on that request: an
// error status to the client, the load error in the error log (as for any worker started later).
import { expect } from 'chai';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getText, quietLog, startHost, type TestHost, waitFor } from './helpers/index.js';

describe('pool: minThreads 0 starts no worker until the first request', function () {
  this.timeout(60_000);
  let dir: string;
  let t: TestHost | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hostd-scale-zero-'));
    await writeFile(join(dir, 'hello.mjs'), "export default { fetch: () => new Response('hello') };\n");
    await writeFile(join(dir, 'broken.mjs'), "throw new Error('broken at import');\n");
  });

  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('no worker after start; the first request starts one and is answered', async () => {
    t = await startHost([
      { serverName: ['*'], apps: [{ url: '/', module: join(dir, 'hello.mjs'), pool: { threads: 2, minThreads: 0, idleTimeout: '1m' } }] },
    ]);
    expect((await t.pool('/')).threads).to.equal(0);
    expect(await getText(t.url('/'))).to.include({ status: 200, text: 'hello' });
    // Grown towards `threads` while the request waited (the sweep adds a worker per 100 ms of queue).
    expect((await t.pool('/')).threads).to.be.within(1, 2);
  });

  it('a pool with minThreads 1 still starts its worker at start', async () => {
    t = await startHost([
      { serverName: ['*'], apps: [{ url: '/', module: join(dir, 'hello.mjs'), pool: { threads: 2, minThreads: 1, idleTimeout: '1m' } }] },
    ]);
    expect((await t.pool('/')).threads).to.equal(2);
  });

  it('an app that fails to load: its first request gets an error status, the error log the load error', async () => {
    const errorLog = quietLog();
    t = await startHost(
      [
        {
          serverName: ['*'],
          apps: [{ url: '/', module: join(dir, 'broken.mjs'), pool: { threads: 1, minThreads: 0, queueTimeout: '5s' } }],
        },
      ],
      { errorLog },
    );
    const r = await getText(t.url('/'));
    expect(r.status).to.be.within(500, 503);
    expect(r.text).to.not.include('broken at import'); // no app error text to the client
    const line = await waitFor(() => errorLog.lines.find((l) => l.includes('app failed to load') && l.includes('broken at import')), {
      what: 'the load error in the error log',
    });
    expect(line).to.match(/^error /);
  });
});
