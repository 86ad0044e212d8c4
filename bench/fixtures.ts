// Everything the bench serves, generated at run time in one temp dir:
//   files/   the static files (1 KiB, 100 KB, 10 MB of random bytes, and 100 KB of text for the
//            compression scenario), served by all three
//   sites/   hostd's vhost files: a catch-all static vhost over files/, an app vhost
//            (Host: app.bench) with one 1-thread pool per app in bench/apps/ (the cached one
//            with a response cache), and the node apps' vhosts (bench/node-apps.ts)
//   nginx/   nginx's prefix (conf, pid, error log, temp paths)

import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { APP_HOST, CACHED, DYNAMIC_PATHS, STATIC_FILES, TEXT_FILE } from './payloads.js';
import { benchText } from './text.js';
import type { VhostConfig } from '../shared/config/types.js';

const appsDir = join(dirname(fileURLToPath(import.meta.url)), 'apps');

export interface Fixtures {
  root: string;
  files: string;
  sites: string;
  /** The same vhosts for `--base` (an older build): only the mounts every build can load. */
  baseSites: string;
  nginxPrefix: string;
  remove(): void;
}

/** `extra`: more vhosts for hostd alone (the node apps), one file each, on hostd's listener. */
export function makeFixtures(hostdPort: number, extra: { name: string; vhost: Omit<VhostConfig, 'listen'> }[] = []): Fixtures {
  const root = mkdtempSync(join(tmpdir(), 'hostd-bench-'));
  chmodSync(root, 0o755); // nginx's worker may run as "nobody"
  const files = join(root, 'files');
  const sites = join(root, 'sites');
  const baseSites = join(root, 'sites-base');
  mkdirSync(files, { mode: 0o755 });
  mkdirSync(sites);
  mkdirSync(baseSites);
  for (const f of STATIC_FILES) writeFileSync(join(files, f.name), randomBytes(f.size), { mode: 0o644 });
  writeFileSync(join(files, TEXT_FILE.name), benchText(TEXT_FILE.size), { mode: 0o644 });

  const listen = `127.0.0.1:${hostdPort}`;
  const staticVhost: VhostConfig = {
    serverName: '*',
    listen,
    static: [{ url: '/', dir: files }],
  };
  const pool = { threads: 1 };
  const appVhost: VhostConfig = {
    serverName: [APP_HOST],
    listen,
    apps: [
      { url: DYNAMIC_PATHS.hello, module: join(appsDir, 'hello.mjs'), pool },
      { url: DYNAMIC_PATHS.echo, module: join(appsDir, 'echo.mjs'), pool },
      { url: DYNAMIC_PATHS.big, module: join(appsDir, 'big.mjs'), pool },
      { url: CACHED.path, module: join(appsDir, 'cached.mjs'), pool, cache: { maxSize: '8mb' } },
      // WebSocket scenarios (bench/ws): echo and fan-out, compression off as in the baselines.
      { url: '/ws', module: join(appsDir, 'ws.mjs'), pool },
    ],
  };
  writeFileSync(join(sites, 'static.json'), JSON.stringify(staticVhost, null, 2));
  writeFileSync(join(sites, 'app.json'), JSON.stringify(appVhost, null, 2));
  for (const e of extra) writeFileSync(join(sites, `${e.name}.json`), JSON.stringify({ ...e.vhost, listen }, null, 2));
  // An older build refuses keys it does not know (`cache`) and may not run WebSocket apps; the
  // scenarios it takes part in (static, hello, echo, 64 KB) need neither.
  const baseApps = appVhost.apps!.filter((a) => a.cache === undefined && a.url !== '/ws');
  writeFileSync(join(baseSites, 'static.json'), JSON.stringify(staticVhost, null, 2));
  writeFileSync(join(baseSites, 'app.json'), JSON.stringify({ ...appVhost, apps: baseApps }, null, 2));

  return {
    root,
    files,
    sites,
    baseSites,
    nginxPrefix: join(root, 'nginx'),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}
