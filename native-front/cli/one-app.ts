// `hostd ./server.mjs [--listen PORT]`: one app, no vhost file. The module is served at / as
// `node server.mjs` would serve it (its interface detected, as for any app mount), behind
// hostd's front, on --listen, else $PORT (as node apps read it), else 3000.
//
// Static files: the router picks the longest prefix and a static mount has no "fall through to
// the app on a miss", so a static mount at / would shadow the app. Instead every folder of
// ./public (beside the module) becomes a static mount of its own (public/css -> /css), served by
// the front before the app ever sees those paths; files at the top of public/ (favicon.ico,
// robots.txt) are left to the app, which serves them if it serves public/ itself (the app runs
// from its own folder, so express.static('public') finds them).
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { VhostConfig } from '../../shared/config/types.js';
import { HostdError } from '../../shared/errors.js';

/** The listen address when neither --listen nor $PORT gives one: what node apps default to. */
export const ONE_APP_PORT = '3000';

/** Names that are a URL path segment as they are (no encoding to get wrong). */
const PLAIN_NAME = /^[A-Za-z0-9_~-][A-Za-z0-9._~-]*$/;

export interface OneApp {
  site: VhostConfig;
  /** The address to listen on (HostOptions.listen). */
  listen: string;
  /** The folders of public/ mounted as static ("/css"), and its top-level files left to the app. */
  staticUrls: string[];
  leftToApp: string[];
}

export function oneApp(module: string, listen: string | undefined, env: NodeJS.ProcessEnv = process.env): OneApp {
  const file = path.resolve(module);
  if (!existsSync(file) || !statSync(file).isFile()) throw new HostdError('HOSTD_CONFIG', `${module}: no such file to serve`);
  const publicDir = path.join(path.dirname(file), 'public');
  const staticMounts: NonNullable<VhostConfig['static']> = [];
  const leftToApp: string[] = [];
  if (existsSync(publicDir) && statSync(publicDir).isDirectory()) {
    for (const entry of readdirSync(publicDir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith('.')) continue;
      if (entry.isDirectory() && PLAIN_NAME.test(entry.name))
        staticMounts.push({ url: `/${entry.name}`, dir: path.join(publicDir, entry.name) });
      else leftToApp.push(entry.name);
    }
  }
  return {
    // The site is named after the module (`hostd reload server` for ./server.mjs).
    site: {
      name: path.basename(file, path.extname(file)),
      serverName: ['*'],
      listen: 3000,
      static: staticMounts,
      apps: [{ url: '/', module: file }],
    },
    listen: listen ?? (env.PORT || ONE_APP_PORT),
    staticUrls: staticMounts.map((m) => m.url),
    leftToApp,
  };
}
