// Test helpers for the deploy-* tests: real nginx, HAProxy and Varnish from the system's packages,
// each started as a child process on loopback with its configuration, pid file, logs and temp
// paths in a private temp directory (no root-owned path, no systemd, no default site). Readiness
// is a poll (TCP connect to the listen port), never a fixed sleep. The recipe files in
// examples/deploy are the configurations under test: fillRecipe() swaps only their addresses.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './host.js';
import { type Truthy, waitFor } from './wait.js';
import { connect as wsConnect, type Client as WsClient } from './ws.js';

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
export function pollUntil<T>(what: string, check: () => T | Promise<T>, timeoutMs = 15_000, everyMs = 50): Promise<Truthy<T>> {
  return waitFor(check, { what, timeout: timeoutMs, interval: everyMs });
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

/** What test/fixtures/deploy/app/ws.mjs says first on every socket. */
export interface WsHello {
  hello: string;
  /** The hostd process that holds the socket. */
  pid: number;
  /** The client address hostd believed (X-Forwarded-For via --trust-proxy, or the PROXY header). */
  remote: string;
}

/**
 * A WebSocket to the deploy fixture's app at `url` (`ws://proxy/ws`) as `name`, from
 * `localAddress` (a 127.0.0.x the test picks so the address hostd reports can be told apart), with
 * the hello the app sent on open.
 */
export async function openWs(url: string, name: string, localAddress = '127.0.0.1'): Promise<{ client: WsClient; hello: WsHello }> {
  const client = await wsConnect(`${url}?name=${encodeURIComponent(name)}`, { localAddress });
  const hello = JSON.parse(String(await client.next())) as WsHello;
  return { client, hello };
}

/** What `converse` saw; a test compares it with what the app must have answered. */
export interface Conversation {
  echo: string;
  binaryEcho: boolean;
  /** `a` published; what `b` got. */
  published: string;
  /** `b` published; what `a` got. */
  publishedBack: string;
  /** The close code and reason `a` got back after it closed with 4001 "done" (1006 = cut, no close frame). */
  aClosed: { code: number; reason: string };
  /** What the app told `b` about `a`'s close (the code and reason hostd received). */
  bSawClose: string;
  bClosed: { code: number; reason: string };
}

/**
 * The conversation every proxy test holds over two sockets of the same hostd (`a` and `b`, opened
 * by `openWs` with those names): a text echo, a 48 KiB binary echo, a publish each way, then `a`
 * closes with 4001 "done" and `b` with 1000 "bye". Waits on messages and close events only.
 */
export async function converse(a: WsClient, b: WsClient): Promise<Conversation> {
  a.send('echo hello through the proxy');
  const echo = String(await a.next());
  const blob = randomBytes(48 * 1024);
  a.send(blob);
  const back = await a.next((m) => Buffer.isBuffer(m));
  a.send('pub from a');
  const published = String(await b.next((m) => typeof m === 'string' && m.startsWith('a: ')));
  b.send('pub from b');
  const publishedBack = String(await a.next((m) => typeof m === 'string' && m.startsWith('b: ')));
  a.close(4001, 'done');
  const aClosed = await a.closed;
  const bSawClose = String(await b.next((m) => typeof m === 'string' && m.startsWith('closed a ')));
  b.close(1000, 'bye');
  const bClosed = await b.closed;
  return { echo, binaryEcho: Buffer.isBuffer(back) && back.equals(blob), published, publishedBack, aClosed, bSawClose, bClosed };
}

/** What `converse` must see when the proxy carries WebSockets both ways and passes close frames. */
export const CONVERSED: Conversation = {
  echo: 'hello through the proxy',
  binaryEcho: true,
  published: 'a: from a',
  publishedBack: 'b: from b',
  aClosed: { code: 4001, reason: 'done' },
  bSawClose: 'closed a 4001 done',
  bClosed: { code: 1000, reason: 'bye' },
};

/**
 * The TCP connections on this host with one end at 127.0.0.1:`port` (any state, TIME_WAIT
 * included), each named by its other end's port: how many connections a proxy opened to a backend,
 * read from /proc/net/tcp without an external tool.
 */
export function connectionsTo(port: number): Set<number> {
  const peers = new Set<number>();
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const [, local, remote] = line.trim().split(/\s+/);
    if (!local || !remote) continue;
    const [lAddr, lPort] = local.split(':');
    const [rAddr, rPort] = remote.split(':');
    if (lAddr === '0100007F' && lPort === hex && rPort !== '0000') peers.add(Number.parseInt(rPort, 16));
    else if (rAddr === '0100007F' && rPort === hex) peers.add(Number.parseInt(lPort, 16));
  }
  return peers;
}
