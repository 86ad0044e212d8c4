// Child processes of the bench: every server runs in its own process group so that stopping it
// also stops what it started (nginx's worker, for one), and every one of them is killed when the
// bench exits, however it exits (normal end, error, Ctrl-C, SIGTERM).

import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import http from 'node:http';

export interface Server {
  name: string;
  proc: ChildProcess;
  /** stdout+stderr so far (the last 64 KiB), for error messages. */
  output(): string;
  /** Resolves with the exit code/signal once the process has gone. */
  exited: Promise<string>;
  /** SIGTERM to the group, SIGKILL after `graceMs` (default 2 s). */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<ChildProcess>();
let handlersInstalled = false;

function killGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  try {
    process.kill(-proc.pid, signal); // the whole group: nginx master + worker, etc.
  } catch {
    try {
      proc.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/** Kills every live child right now (synchronous: safe inside process.on('exit')). */
export function killAll(): void {
  for (const proc of live) killGroup(proc, 'SIGKILL');
  live.clear();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping servers\n`);
      killAll();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
    killAll();
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
    killAll();
    process.exit(1);
  });
}

export function startServer(name: string, cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Server {
  installHandlers();
  const proc = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group (see killGroup); we forward Ctrl-C ourselves
  });
  live.add(proc);
  let out = '';
  const keep = (chunk: Buffer) => {
    out += chunk.toString();
    if (out.length > 65536) out = out.slice(-65536);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<string>((resolve) => {
    proc.on('error', (err) => {
      live.delete(proc);
      resolve(`failed to start: ${err.message}`);
    });
    proc.on('exit', (code, signal) => {
      live.delete(proc);
      resolve(signal ? `signal ${signal}` : `exit code ${code}`);
    });
  });
  return {
    name,
    proc,
    output: () => out,
    exited,
    async stop(graceMs = 2000) {
      killGroup(proc, 'SIGTERM');
      const timer = setTimeout(() => killGroup(proc, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A TCP port that was free a moment ago (bound to 0, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** One HTTP GET; resolves with the status code, or rejects on a connection error. */
function probe(port: number, path: string, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: host ? { host } : {}, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Waits until the server answers HTTP on the port; fails early when the process exits. */
export async function waitForHttp(server: Server, port: number, path = '/', timeoutMs = 20000, host?: string): Promise<void> {
  let gone: string | undefined;
  void server.exited.then((why) => {
    gone = why;
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (gone) throw new Error(`${server.name} exited before answering (${gone}):\n${server.output().trim()}`);
    try {
      await probe(port, path, host);
      return;
    } catch {
      if (Date.now() > deadline)
        throw new Error(`${server.name} did not answer on port ${port} within ${timeoutMs} ms:\n${server.output().trim()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Registers a short-lived child (wrk) so that it is killed with the rest on exit. */
export function track(proc: ChildProcess): void {
  installHandlers();
  live.add(proc);
  proc.on('exit', () => live.delete(proc));
  proc.on('error', () => live.delete(proc));
}
