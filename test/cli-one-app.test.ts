// `hostd ./server.mjs` (native-front/cli/one-app.ts): one app served at / with no vhost file, as
// `node server.mjs` would serve it, with the folders of ./public beside it served by the front.
import { expect } from 'chai';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, getText, type HostdProcess, runCli, spawnHostd } from './helpers/index.js';

/** A project folder: server.mjs (a plain node:http app), public/css/site.css, public/robots.txt. */
async function project(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hostd-one-app-'));
  await writeFile(
    join(dir, 'server.mjs'),
    `import http from 'node:http';
http.createServer((req, res) => res.end('app saw ' + req.url)).listen(process.env.PORT || 3000);
`,
  );
  await writeFile(
    join(dir, 'fetch.mjs'),
    `export default { fetch: (req) => new Response('fetch app saw ' + new URL(req.url).pathname + ' in ' + process.cwd()) };\n`,
  );
  await mkdir(join(dir, 'public', 'css'), { recursive: true });
  await writeFile(join(dir, 'public', 'css', 'site.css'), 'body { color: teal }\n');
  await writeFile(join(dir, 'public', 'robots.txt'), 'User-agent: *\n');
  return dir;
}

describe('hostd ./server.mjs: one app, no files', function () {
  this.timeout(60_000);
  let dir: string;
  let hostd: HostdProcess | undefined;

  before(async () => {
    dir = await project();
  });

  afterEach(async () => {
    await hostd?.stop();
    hostd = undefined;
  });

  it('serves the node app at /, and the folders of public/ from the front before the app', async () => {
    hostd = await spawnHostd(['./server.mjs', '--listen', '127.0.0.1:0', '--access-log', 'off'], { cwd: dir });
    const url = (p: string) => `http://127.0.0.1:${hostd!.port}${p}`;
    expect(await getText(url('/'))).to.include({ status: 200, text: 'app saw /' });
    expect(await getText(url('/orders/7?x=1'))).to.include({ status: 200, text: 'app saw /orders/7?x=1' });
    const css = await getText(url('/css/site.css'));
    expect(css).to.include({ status: 200, text: 'body { color: teal }\n' });
    expect(css.headers['content-type']).to.match(/^text\/css/);
    // A file at the top of public/ is the app's (a static mount at / would shadow the app).
    expect(await getText(url('/robots.txt'))).to.include({ status: 200, text: 'app saw /robots.txt' });
    expect(hostd.stderr()).to.include('public/: its folders are static mounts served by hostd');
  });

  it('listens on $PORT when no --listen is given, detects a fetch module, and runs it from its folder', async () => {
    const port = await freePort();
    hostd = await spawnHostd([join(dir, 'fetch.mjs'), '--access-log', 'off'], { cwd: tmpdir(), env: { PORT: String(port) } });
    expect(hostd.port).to.equal(port);
    expect(await getText(`http://127.0.0.1:${port}/hello`)).to.include({ status: 200, text: `fetch app saw /hello in ${dir}` });
  });

  it('a module that is not there exits 1; a module with --sites is a usage error (2)', async () => {
    const missing = await runCli(['./nope.mjs', '--no-supervisor'], { cwd: dir });
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.include('./nope.mjs: no such file to serve');
    const both = await runCli(['./server.mjs', '--sites', '.'], { cwd: dir });
    expect(both.code).to.equal(2);
    expect(both.stderr).to.include('serve either one module (./server.mjs) or --sites, not both');
  });
});
