// Test helpers for the deploy-* tests: real nginx, HAProxy and Varnish from the system's packages,
// each started as a child process on loopback with its configuration, pid file, logs and temp
// paths in a private temp directory (no root-owned path, no systemd, no default site). Readiness
// is a poll (TCP connect to the listen port), never a fixed sleep. The recipe files in
// examples/deploy are the configurations under test: fillRecipe() swaps only their addresses.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './host.js';

/** The path of `name` on PATH or in /usr/sbin (where Debian puts these daemons), or undefined. */
export function findBinary(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin']) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/**
 * Skips the calling suite when `bin` is not installed (a developer machine without it). In CI
 * (CI=true, as .ci/run is run there) .ci/run has installed all three, so a missing one is a
 * failure, never a silent skip. Call from a `before` hook.
 */
export function requireBinary(ctx: Mocha.Context, bin: string, pkg: string): string {
  const path = findBinary(bin);
  if (path) return path;
  if (process.env.CI) throw new Error(`${bin} is not installed, and CI is set: .ci/run should have installed ${pkg}`);
  console.log(`      skipped: ${bin} is not installed (apt-get install ${pkg}; .ci/run installs it in CI)`);
  ctx.skip();
}

/** A free TCP port on 127.0.0.1 (bound and released: servers that cannot report an ephemeral port need one). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Polls `check` every `everyMs` until it returns a truthy value; rejects after `timeoutMs` naming `what`. */
export async function pollUntil<T>(what: string, check: () => T | Promise<T>, timeoutMs = 15_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** True when something accepts a TCP connection on 127.0.0.1:port. */
export function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * The recipe file `examples/deploy/<rel>` with each key of `swap` replaced by its value. Every key
 * must occur in the file: a recipe edited so that a test would silently run something else fails.
 */
export function fillRecipe(rel: string, swap: Record<string, string>): string {
  let text = readFileSync(join(ROOT, 'examples/deploy', rel), 'utf8');
  for (const [from, to] of Object.entries(swap)) {
    if (!text.includes(from)) throw new Error(`examples/deploy/${rel} no longer contains "${from}": update the test with the recipe`);
    text = text.split(from).join(to);
  }
  return text;
}

export interface ServerProcess {
  readonly name: string;
  readonly proc: ChildProcess;
  /** The private directory with its config, logs and state. */
  readonly dir: string;
  /** What it printed on stdout and stderr so far. */
  output(): string;
  /** SIGTERM (then SIGKILL after 10 s), waits for exit, removes the directory. */
  stop(): Promise<void>;
}

function startProcess(
  name: string,
  bin: string,
  args: string[],
  dir: string,
  ports: number[],
  opts: { cwd?: string } = {},
): Promise<ServerProcess> {
  const proc = spawn(bin, args, { cwd: opts.cwd ?? dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  let exited = false;
  const exit = new Promise<void>((r) =>
    proc.once('exit', () => {
      exited = true;
      r();
    }),
  );
  proc.once('error', (err) => (out += `\nspawn error: ${err.message}`));
  const server: ServerProcess = {
    name,
    proc,
    dir,
    output: () => out,
    stop: async () => {
      if (!exited) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        await exit;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return pollUntil(`${name} to accept connections on ${ports.join(', ')}`, async () => {
    if (exited) throw new Error(`${name} exited early:\n${out}${readLogs(dir)}`);
    for (const p of ports) if (!(await canConnect(p))) return false;
    return true;
  }).then(
    () => server,
    async (err) => {
      await server.stop();
      throw err;
    },
  );
}

function readLogs(dir: string): string {
  const f = join(dir, 'error.log');
  return existsSync(f) ? readFileSync(f, 'utf8') : '';
}

function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `hostd-${prefix}-`));
}

/**
 * nginx with `httpConf` (an http-context snippet: upstreams and servers, as a recipe would put in
 * /etc/nginx/conf.d/) inside a generated main file that keeps pid, logs and temp paths in a temp
 * prefix. `ports`: the listen ports to wait for.
 */
export function startNginx(bin: string, httpConf: string, ports: number[]): Promise<ServerProcess> {
  const dir = tempDir('nginx');
  for (const t of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, 'tmp', t), { recursive: true });
  writeFileSync(join(dir, 'site.conf'), httpConf);
  writeFileSync(
    join(dir, 'nginx.conf'),
    `# generated by test/helpers/proxies.ts around the recipe in site.conf
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  include ${dir}/site.conf;
}
`,
  );
  return startProcess(
    'nginx',
    bin,
    ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', 'daemon off;'],
    dir,
    ports,
  );
}

/** HAProxy in the foreground (-db) with the configuration `cfg`. */
export function startHaproxy(bin: string, cfg: string, ports: number[]): Promise<ServerProcess> {
  const dir = tempDir('haproxy');
  writeFileSync(join(dir, 'haproxy.cfg'), cfg);
  return startProcess('haproxy', bin, ['-f', join(dir, 'haproxy.cfg'), '-db'], dir, ports);
}

export interface VarnishProcess extends ServerProcess {
  /** `varnishstat -1` counters (MAIN.cache_hit, MAIN.cache_miss, ...). */
  stats(): Record<string, number>;
  /** The backend requests Varnish made so far (`varnishlog -d -b`): method, URL and status of each. */
  backendRequests(): { method: string; url: string; status: number }[];
}

/**
 * varnishd in the foreground with `vcl`, 64 MB of malloc storage, its working directory (-n) in a
 * temp dir, no management port, and no privilege separation (-j none: nothing to switch to when
 * run by root in CI, and not needed for a loopback test).
 */
export async function startVarnish(bin: string, vcl: string, port: number, extraParams: string[] = []): Promise<VarnishProcess> {
  const dir = tempDir('varnish');
  writeFileSync(join(dir, 'default.vcl'), vcl);
  const params = extraParams.flatMap((p) => ['-p', p]);
  const args = [
    '-F',
    '-j',
    'none',
    '-n',
    join(dir, 'work'),
    '-a',
    `127.0.0.1:${port}`,
    '-f',
    join(dir, 'default.vcl'),
    '-s',
    'malloc,64m',
    '-T',
    'none',
    ...params,
  ];
  const server = await startProcess('varnishd', bin, args, dir, [port]);
  const statBin = findBinary('varnishstat') ?? 'varnishstat';
  const logBin = findBinary('varnishlog') ?? 'varnishlog';
  return {
    ...server,
    stats: () => {
      const r = spawnSync(statBin, ['-1', '-n', join(dir, 'work')], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`varnishstat failed: ${r.stderr}`);
      const counters: Record<string, number> = {};
      for (const line of r.stdout.split('\n')) {
        const m = /^(\S+)\s+(\d+)\s/.exec(line);
        if (m) counters[m[1]] = Number(m[2]);
      }
      return counters;
    },
    backendRequests: () => {
      const r = spawnSync(logBin, ['-d', '-b', '-n', join(dir, 'work'), '-i', 'BereqMethod,BereqURL,BerespStatus'], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`varnishlog failed: ${r.stderr}`);
      return r.stdout
        .split(/^\*/m)
        .map((block) => ({
          method: /BereqMethod\s+(\S+)/.exec(block)?.[1] ?? '',
          url: /BereqURL\s+(\S+)/.exec(block)?.[1] ?? '',
          status: Number(/BerespStatus\s+(\d+)/.exec(block)?.[1] ?? 0),
        }))
        .filter((b) => b.method !== '');
    },
  };
}
