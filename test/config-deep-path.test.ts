// The config tests must pass whatever the checkout's path: problems quote absolute paths (a
// missing module, a missing dir), and a message that shortened them would hide the very file
// name a user needs (and fail only in clones at a longer path). This copies the checkout (not
// node_modules, linked instead) under a folder whose path is over 120 characters long, and
// runs the config and `hostd check` test files there with mocha.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { formatProblem, resolveVhost } from '../shared/config/index.js';
import { ROOT } from './helpers/host.js';

const FILES = ['test/config.test.ts', 'test/cli-check.test.ts'];
/** Not copied: installed packages (linked), git, the Next.js fixture's build, local notes and bench output. */
const SKIP = new Set(['node_modules', '.git', '.next', '.bench', '.notes']);

describe('config tests from a checkout path over 120 characters long', function () {
  this.timeout(120_000);
  let top: string;

  after(async () => {
    if (top) await rm(top, { recursive: true, force: true });
  });

  it(`${FILES.join(' and ')} pass there`, async () => {
    top = await mkdtemp(join(tmpdir(), 'hostd-deep-'));
    let deep = top;
    for (let i = 0; deep.length <= 120; i++) deep = join(deep, `a-rather-long-folder-name-${i}`);
    deep = join(deep, 'hostd-checkout');
    expect(deep.length).to.be.greaterThan(120);
    // dist/ comes along: the `hostd check` tests run the built CLI.
    await cp(ROOT, deep, { recursive: true, verbatimSymlinks: true, filter: (src) => !SKIP.has(basename(src)) });
    await symlink(join(ROOT, 'node_modules'), join(deep, 'node_modules'), 'dir');
    await writeFile(join(deep, '.mocharc.deep.json'), JSON.stringify({ import: 'tsx', spec: FILES, timeout: 30000, exit: true }));

    const out = await new Promise<{ code: number | null; text: string }>((resolve, reject) => {
      const p = spawn(process.execPath, [join(ROOT, 'node_modules/mocha/bin/mocha.js'), '--config', '.mocharc.deep.json'], {
        cwd: deep,
        env: { ...process.env, NO_COLOR: '1' },
      });
      let text = '';
      p.stdout.on('data', (d) => (text += d));
      p.stderr.on('data', (d) => (text += d));
      p.on('error', reject);
      p.on('close', (code) => resolve({ code, text }));
    });
    expect(out.code, out.text).to.equal(0);
    expect(out.text).to.match(/\b[3-9]\d passing\b/); // the tests ran (35 today), not zero
    expect(out.text).not.to.match(/\bfailing\b/);
  });
});

describe('config: long values in messages', () => {
  it('a long value is shortened in the middle, keeping both ends; a long path is shown whole', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hostd-long-'));
    try {
      const where = join(dir, 'a-folder-name-long-enough-to-pass-sixty-characters-by-itself', 'and-deeper');
      await mkdir(where, { recursive: true });
      const notJs = join(where, 'server.txt');
      await writeFile(notJs, 'not a module');
      const duration = `${'9'.repeat(40)} and then some more words ${'x'.repeat(40)} seconds`;
      const r = resolveVhost(
        { serverName: 'long.test', apps: [{ url: '/', module: notJs, pool: { requestTimeout: duration } }] },
        { file: '<api>', baseDir: dir },
      );
      const lines = r.problems.map(formatProblem);
      expect(lines).to.have.length(2);
      expect(lines).to.include(
        `<api>: apps[0].module: "${notJs}" is not a JavaScript or TypeScript module (.js .mjs .cjs .ts .mts .cts .tsx .jsx)`,
      );
      const shown = /requestTimeout: "(.*)" is not a duration/.exec(lines.find((l) => l.includes('requestTimeout'))!)![1]!;
      expect(shown).to.have.length(60);
      expect(shown).to.match(/^9{30}…/); // the start says what it is
      expect(shown).to.match(/…x+ seconds$/); // the end is kept too
      expect(shown.endsWith(duration.slice(-29))).to.equal(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
