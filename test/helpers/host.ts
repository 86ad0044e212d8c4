// A host in this process (createHost) or the real `hostd` binary in a child process.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHost, type Host, type HostOptions } from '../../index.js';
import type { VhostConfig } from '../../shared/config/types.js';
import { type PoolStatus, poolIn, readStatus, type StatusJson } from './status.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface TestHost {
  host: Host;
  port: number;
  url(path?: string): string;
  /** The host's /status document, read over its status listener. */
  status(): Promise<StatusJson>;
  /** The pool of the app mounted at `url` ("/" for the root), as /status reports it. */
  pool(url?: string): Promise<PoolStatus>;
  close(): Promise<void>;
}

/**
 * Starts an in-process host on an ephemeral port (vhosts default to `listen: 0`), with its
 * status listener on an ephemeral port too, so tests read pools and counters over /status.
 */
export async function startHost(sites: VhostConfig[], opts: Omit<HostOptions, 'sites'> = {}): Promise<TestHost> {
  const host = await createHost({
    accessLog: false,
    errorLog: opts.errorLog ?? quietLog(),
    status: '127.0.0.1:0',
    fronts: 1, // the default depends on the machine's cores; tests say when they want more
    ...opts,
    sites: sites.map((s) => ({ listen: 0, ...s })),
  });
  await host.listen();
  await host.ready(); // tests start from loaded apps; listen() alone does not wait for them
  const port = host.addresses[0].port;
  const status = () => readStatus(`http://127.0.0.1:${host.statusPort}`);
  return {
    host,
    port,
    url: (path = '/') => `http://127.0.0.1:${port}${path}`,
    status,
    pool: async (url = '/') => poolIn(await status(), url),
    close: () => host.close(),
  };
}

/** An ErrorLog that keeps lines in memory (tests read `lines`), printing nothing. */
export function quietLog() {
  const lines: string[] = [];
  const push = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push(`${level} ${msg} ${fields ? JSON.stringify(fields, (_k, v) => (v instanceof Error ? v.stack : v)) : ''}`);
  };
  return { lines, info: push('info'), warn: push('warn'), error: push('error') };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

// Every spawned hostd gets a runtime directory of its own (its default status socket goes there),
// so tests never touch /run/hostd or the user's, and two hostds of one test never share a socket.
const RUNTIME_ROOT = join(tmpdir(), `hostd-test-${process.pid}`);
let runtimeDirs = 0;
process.on('exit', () => rmSync(RUNTIME_ROOT, { recursive: true, force: true }));

/** A fresh HOSTD_RUNTIME_DIR for one spawned hostd (the folder itself is hostd's to create). */
export function testRuntimeDir(): string {
  mkdirSync(RUNTIME_ROOT, { recursive: true });
  return join(RUNTIME_ROOT, String(++runtimeDirs));
}

/**
 * hostd runs under its supervisor by default (a parent process and the serving child): tests
 * start it in a process group of its own and kill the whole group when they must, so no serving
 * child outlives a test.
 */
function spawnCli(args: string[], opts: CliOptions): ChildProcess {
  const env = { ...process.env, HOSTD_RUNTIME_DIR: testRuntimeDir(), ...opts.env };
  return spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? ROOT, env, detached: true, uid: opts.uid, gid: opts.gid });
}

/** SIGKILL for the process and everything in its group. */
export function killGroup(proc: ChildProcess): void {
  try {
    if (proc.pid !== undefined) process.kill(-proc.pid, 'SIGKILL');
  } catch {
    proc.kill('SIGKILL');
  }
}

export interface CliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Run hostd as this user (the test runs as root). */
  uid?: number;
  gid?: number;
}

/** Runs `hostd ARGS` to completion. */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const proc = spawnCli(args, opts);
    let stdout = '';
    let stderr = '';
    proc.stdout!.on('data', (d) => {
      stdout += d;
    });
    proc.stderr!.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => killGroup(proc), opts.timeoutMs ?? 20_000);
    proc.on('error', reject);
    proc.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface HostdProcess {
  proc: ChildProcess;
  /** The first port hostd reported listening on. */
  port: number;
  stdout(): string;
  stderr(): string;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves when stderr matches `pattern`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/**
 * Starts `hostd ARGS` and resolves once it logs a listening address. Pass sites with
 * `listen: 0` (or `--listen 127.0.0.1:0`) to get an ephemeral port.
 */
export function spawnHostd(args: string[], opts: CliOptions = {}): Promise<HostdProcess> {
  return new Promise((resolve, reject) => {
    const proc = spawnCli(args, opts);
    let out = '';
    let err = '';
    const waiters: { pattern: RegExp; resolve: () => void }[] = [];
    proc.stdout!.on('data', (d) => {
      out += d;
    });
    proc.stderr!.on('data', (d) => {
      err += d;
      for (const w of [...waiters])
        if (w.pattern.test(err)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
    });
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    const handle: HostdProcess = {
      proc,
      port: 0,
      stdout: () => out,
      stderr: () => err,
      stop: async (signal = 'SIGTERM') => {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
        const timer = setTimeout(() => killGroup(proc), 15_000);
        const code = await exited;
        clearTimeout(timer);
        return code;
      },
      waitFor: (pattern, timeoutMs = 15_000) =>
        new Promise((res, rej) => {
          if (pattern.test(err)) return res();
          const t = setTimeout(() => rej(new Error(`timed out waiting for ${pattern} in hostd stderr:\n${err}`)), timeoutMs);
          waiters.push({
            pattern,
            resolve: () => {
              clearTimeout(t);
              res();
            },
          });
        }),
    };
    const timer = setTimeout(() => {
      killGroup(proc);
      reject(new Error(`hostd did not start:\n${err}`));
    }, opts.timeoutMs ?? 20_000);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`hostd exited with ${code} before listening:\n${err}`));
    });
    handle.waitFor(/listening address=https?:\/\/[^\s:]+:(\d+)/, opts.timeoutMs ?? 20_000).then(() => {
      clearTimeout(timer);
      handle.port = Number(/listening address=https?:\/\/[^\s:]+:(\d+)/.exec(err)![1]);
      resolve(handle);
    }, reject);
  });
}
