// A throwaway site for tests that run hostd as users do: a temp dir with a vhost file, static
// files and an app whose version the test can change.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The app every ops test mounts: echoes what it was given, can be slow, can log. */
export function appSource(version: string): string {
  return `const VERSION = ${JSON.stringify(version)};
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname.endsWith('/slow')) {
      await new Promise((r) => setTimeout(r, Number(url.searchParams.get('ms') ?? 1000)));
      return new Response('slow done ' + VERSION);
    }
    if (url.pathname.endsWith('/log')) console.log('app says ' + url.searchParams.get('msg'));
    return Response.json({
      version: VERSION,
      remoteAddress: ctx.remoteAddress,
      requestId: ctx.requestId,
      xRequestId: request.headers.get('x-request-id'),
      mount: ctx.mount,
      url: request.url,
    });
  },
};
`;
}

/** What appSource's app answers (JSON) to any path but /slow. */
export interface AppEcho {
  version: string;
  remoteAddress: string;
  requestId: string;
  xRequestId: string | null;
  mount: string;
  url: string;
}

export interface Site {
  root: string;
  sites: string;
  appFile: string;
  vhostFile: string;
  /** Writes the vhost file (YAML text). */
  writeVhost(yaml: string): Promise<void>;
  /** Replaces the app's code with one answering `version`. */
  writeApp(version: string): Promise<void>;
}

/** A temp dir with sites/main.yaml, public/index.html and app/app.mjs (version "v1"). */
export async function makeSite(vhostYaml?: string): Promise<Site> {
  const root = await mkdtemp(join(tmpdir(), 'hostd-ops-'));
  const sites = join(root, 'sites');
  await mkdir(sites);
  await mkdir(join(root, 'public'));
  await mkdir(join(root, 'app'));
  await writeFile(join(root, 'public', 'index.html'), 'static hello\n');
  await writeFile(join(root, 'public', 'big.txt'), 'x'.repeat(64 * 1024));
  const site: Site = {
    root,
    sites,
    appFile: join(root, 'app', 'app.mjs'),
    vhostFile: join(sites, 'main.yaml'),
    writeVhost: (yaml) => writeFile(site.vhostFile, yaml),
    writeApp: (version) => writeFile(site.appFile, appSource(version)),
  };
  await site.writeApp('v1');
  await site.writeVhost(vhostYaml ?? basicVhost());
  return site;
}

/** A vhost on an ephemeral port with a static root and an app under /app. */
export function basicVhost(extra = '', pool = 'threads: 2'): string {
  return `serverName: ["*"]
listen: "127.0.0.1:0"
static:
  - url: /
    dir: ../public
apps:
  - url: /app
    module: ../app/app.mjs
    pool: { ${pool} }
${extra}`;
}
