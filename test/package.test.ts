// The package as a user gets it: `npm pack` of a fresh copy of this checkout (its tracked and
// new files, no dist/: prepack must build), installed into a new folder as `npm install
// <tarball>` would, then the installed `hostd` binary and the shipped type declarations.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './helpers/host.js';

const run = promisify(execFile);
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** The files a fresh clone would have: tracked ones plus new, not ignored ones (as committed next). */
async function copyCheckout(to: string): Promise<void> {
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, maxBuffer: 1 << 26 });
  for (const file of stdout.split('\0').filter(Boolean)) {
    await cp(path.join(ROOT, file), path.join(to, file), { recursive: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err; // deleted in the work tree, not yet committed
    });
  }
  // The clone's `npm ci` would give it these; the shared install is the same.
  await symlink(path.join(ROOT, 'node_modules'), path.join(to, 'node_modules'));
}

/** npm install of the tarball: from the npm cache when it has everything, else from the registry. */
async function installTarball(folder: string, tarball: string): Promise<void> {
  const base = ['install', '--no-audit', '--no-fund', tarball];
  try {
    await run('npm', [...base, '--offline'], { cwd: folder });
  } catch {
    await run('npm', [...base, '--prefer-offline'], { cwd: folder });
  }
}

/** Type-checks `main.ts` in `folder` with this repository's TypeScript; resolves with its output ('' when clean). */
async function typeCheck(folder: string, source: string): Promise<string> {
  await writeFile(path.join(folder, 'main.ts'), source);
  try {
    await run(process.execPath, [TSC, '-p', folder], { cwd: folder });
    return '';
  } catch (err) {
    return (err as { stdout: string }).stdout || String(err);
  }
}

const USES_THE_API = `import { type App, type AppContext, createHost, type HostOptions, type ServerWebSocket, type VhostConfig } from 'hostd';

const site: VhostConfig = { serverName: ['*'], listen: 0, apps: [{ url: '/', module: './app.ts', pool: { threads: 1 } }] };
const options: HostOptions = { sites: [site], accessLog: false };
const host = await createHost(options);
host.mount({ serverName: ['*'], listen: 0 }, { url: '/api', module: './api.ts' });
await host.listen();
await host.close();

export const app: App<{ user: string }> = {
  fetch(request: Request, _env: Record<string, string>, ctx: AppContext) {
    return new Response(request.method + ' ' + ctx.mount + ' ' + ctx.remoteAddress);
  },
  websocket: {
    message(ws: ServerWebSocket<{ user: string }>, message) {
      ws.send(ws.data.user + ': ' + String(message));
    },
  },
};
`;

describe('the npm package: packed, installed into a new folder, used', function () {
  this.timeout(240_000);
  let dir: string;
  let consumer: string;
  let version: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hostd-package-'));
    const clone = path.join(dir, 'clone');
    consumer = path.join(dir, 'consumer');
    await mkdir(clone);
    await mkdir(consumer);
    await copyCheckout(clone);
    await run('npm', ['pack', '--pack-destination', dir], { cwd: clone, maxBuffer: 1 << 26 });
    const tarball = (await readdir(dir)).find((f) => f.endsWith('.tgz'));
    expect(tarball, 'npm pack made no tarball').to.be.a('string');
    version = (JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    await writeFile(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    await installTarball(consumer, path.join(dir, tarball!));
    await writeFile(
      path.join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: false, // hostd's own declarations must check too
          lib: ['ES2023', 'DOM'],
          types: ['node'],
          typeRoots: [path.join(ROOT, 'node_modules', '@types')], // a TypeScript project has @types/node
        },
        files: ['main.ts'],
      }),
    );
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the tarball installs a working binary: npx hostd --version', async () => {
    const { stdout } = await run('npx', ['--no-install', 'hostd', '--version'], { cwd: consumer });
    expect(stdout.trim()).to.equal(`hostd ${version}`);
  });

  it('a TypeScript file using createHost and the app types type-checks against the installed package', async () => {
    expect(await typeCheck(consumer, USES_THE_API)).to.equal('');
  });

  it('the types are real: a misspelt vhost key is a type error', async () => {
    const out = await typeCheck(
      consumer,
      `import type { VhostConfig } from 'hostd';\nexport const v: VhostConfig = { listen: 0, statc: [] };\n`,
    );
    expect(out)
      .to.match(/TS2353|TS2561/)
      .and.to.include('statc');
  });
});
