// `hostd check` (native-front/cli/check.ts) over the real binary: every problem of every file at
// once, per file and in line order, the load failures of its apps included, even in a file
// whose configuration has problems of its own.
import { expect } from 'chai';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './helpers/host.js';

// As the user would type them (relative to the working directory), like the config tests.
const DIR = path.relative(process.cwd(), fileURLToPath(new URL('./fixtures/check/', import.meta.url)));
const f = (name: string) => path.join(DIR, name);
const abs = (...p: string[]) => path.resolve(DIR, ...p);

describe('hostd check: every problem at once', function () {
  this.timeout(30_000);

  it('a file with config problems still has its well-formed apps loaded; all of it in line order, file by file', async () => {
    const r = await runCli(['check', '--sites', DIR]);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.equal('');
    const twoServers =
      `app ${abs('../node-apps/two-servers.mjs')} failed to load: the app called listen() on 2 HTTP servers with different request handlers: ` +
      'listen(3000) at two-servers.mjs:12 (request handler: site()); listen(127.0.0.1:9000) at two-servers.mjs:13 (request handler: admin()). ' +
      'hostd serves one app per mount: export the one it should serve (export default / module.exports), or mount each from its own module';
    expect(r.stderr.trimEnd().split('\n')).to.deep.equal([
      `${f('a-mixed.yaml')}:3: listen: expected a port number or "host:port", got "localhost:99999"`,
      `${f('a-mixed.yaml')}:4: unknown key "statc" (did you mean "static"?)`,
      `${f('a-mixed.yaml')}:7: apps[0].module: app ${abs('../node-apps/throws-at-import.mjs')} failed to load: TypeError: bad config (throws-at-import.mjs:1:7)`,
      `${f('a-mixed.yaml')}:9: apps[1].module: file not found: ${abs('no-such-app.mjs')}`,
      // apps[2] loads; apps[3] has a problem of its own, so it is not loaded.
      `${f('a-mixed.yaml')}:15: apps[3].pool.threads: must be at least 1, got 0`,
      `${f('b-load.json')}:5: apps[0].module: app ${abs('../node-apps/syntax-error.mjs')} failed to load: SyntaxError: Unexpected token ';' (syntax-error.mjs:3:25)`,
      `${f('b-load.json')}:6: apps[1].module: ${twoServers}`,
    ]);
  });

  it('a bad --listen is reported once, first, and the apps are still loaded', async () => {
    const r = await runCli(['check', '--sites', f('b-load.json'), '--listen', 'nowhere']);
    expect(r.code).to.equal(1);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).to.equal('command line: --listen: expected a port number or "host:port", got "nowhere"');
    expect(lines.slice(1).map((l) => l.split(': app ')[0])).to.deep.equal([
      `${f('b-load.json')}:5: apps[0].module`,
      `${f('b-load.json')}:6: apps[1].module`,
    ]);
  });
});
