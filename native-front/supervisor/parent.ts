// The supervisor: the small parent process `hostd` runs by default (not with --no-supervisor,
// not for `check`, not in the programmatic API). It starts the serving process as its child
// (this same executable with --no-supervisor), forwards SIGTERM, SIGINT, SIGHUP and SIGUSR1 to
// it, and restarts it when it dies or exits without having been asked to: whatever the exit code,
// because an app that ran `kill -TERM <pid>` through child_process makes hostd drain and exit 0.
//
// - Asked to stop (SIGTERM/SIGINT): forwards the signal, waits for the drain, exits with the
//   child's code. A child still running --graceful-timeout + 10 s later is killed (SIGKILL).
// - First start: a child that exits with a non-zero code before it reported "serving" (a
//   configuration error, an address in use) is not restarted: the supervisor exits with that
//   code, so `hostd` with a broken vhost file fails as it always did.
// - Later deaths, including at start after the first successful one: logged (exit code or
//   signal, how long it had served) and restarted after a backoff (backoff.ts).
// - Signals that arrive while a child is starting are held until its handlers are installed
//   ("armed" on the channel, child.ts): forwarding SIGHUP earlier would kill it (exit 129).
//   Between runs SIGHUP and SIGUSR1 are dropped: the next run reads the configuration and opens
//   the logs afresh.
//
// The supervisor loads no configuration, no uWebSockets.js and no app: nothing an app does in
// the serving process can reach it except a signal from a child process it starts (the worker
// guard refuses process.kill aimed at the supervisor; `kill -9 $PPID` through child_process
// cannot be refused). If the supervisor itself dies, the serving process keeps serving,
// unsupervised; under systemd, the unit's Restart=always starts both again.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { mallocEnv } from './malloc-env.js';
import { Backoff } from './backoff.js';
import { supervisorLog } from './log.js';
import { onSignals, type HostSignal } from './signals.js';

export interface SupervisorOptions {
  /** The command-line arguments of the serving process (--no-supervisor is appended). */
  argv: string[];
  /** --error-log: where the supervisor's own lines go ("-" or undefined: stderr). */
  errorLog?: string;
  /** --graceful-timeout in milliseconds: how long a drain may take before the child is killed. */
  gracefulTimeoutMs: number;
  /** The executable script to run (default: this process's own, process.argv[1]). */
  script?: string;
}

/** Margin over --graceful-timeout before a draining child is killed (its exit takes a moment). */
const KILL_MARGIN_MS = 10_000;

export function runSupervisor(opts: SupervisorOptions): void {
  const log = supervisorLog(opts.errorLog);
  const backoff = new Backoff();
  const script = opts.script ?? process.argv[1];
  let child: ChildProcess | null = null;
  let armed = false;
  /** When the current child reported "serving"; 0 while it has not. */
  let servingSince = 0;
  let everServed = false;
  /** When an unasked death was noticed and the host has not served since; 0 otherwise. */
  let downSince = 0;
  let stopping = false;
  let restartTimer: NodeJS.Timeout | null = null;
  const held = new Set<HostSignal>();

  const exit = (code: number) => process.exit(code);

  const start = () => {
    restartTimer = null;
    armed = false;
    servingSince = 0;
    held.clear();
    const c = spawn(process.execPath, [...process.execArgv, script, ...opts.argv, '--no-supervisor'], {
      stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
      env: { ...mallocEnv(process.env), ...process.env, HOSTD_SUPERVISOR_FD: '3' },
    });
    child = c;
    c.on('error', (err) => {
      // Spawning failed (no child: no 'exit' follows). Count it as a death that never served.
      if (c.pid !== undefined || c !== child) return;
      log('error', 'cannot start the serving process', { error: err.message });
      onExit(c, 1, null);
    });
    createInterface({ input: c.stdio[3] as Readable }).on('line', (line) => {
      if (c !== child) return;
      if (line === 'armed' && !armed) {
        armed = true;
        for (const signal of held) c.kill(signal);
        held.clear();
      } else if (line === 'serving' && servingSince === 0) {
        servingSince = Date.now();
        everServed = true;
        if (downSince) log('info', 'serving again', { pid: c.pid, downtimeMs: servingSince - downSince });
        downSince = 0;
      }
    });
    c.on('exit', (code, signal) => onExit(c, code, signal));
  };

  const onExit = (c: ChildProcess, code: number | null, signal: NodeJS.Signals | null) => {
    if (c !== child) return;
    child = null;
    const status = code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
    if (stopping) return exit(status);
    const servedMs = servingSince ? Date.now() - servingSince : 0;
    const why = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    if (!everServed && code !== null && code !== 0) {
      log('error', `the serving process ${why} before it served; not restarting`, { pid: c.pid });
      return exit(code);
    }
    const delay = backoff.next(servedMs);
    if (!downSince) downSince = Date.now();
    log('error', `the serving process ${why} without being asked to stop; restarting it`, {
      pid: c.pid,
      code: code ?? undefined,
      signal: signal ?? undefined,
      servedMs,
      restartInMs: delay,
    });
    restartTimer = setTimeout(start, delay);
  };

  onSignals((signal) => {
    if (signal === 'SIGTERM' || signal === 'SIGINT') {
      if (!stopping) {
        stopping = true;
        setTimeout(() => {
          log('error', 'the serving process did not finish its drain in time; killing it', {
            pid: child?.pid,
            gracefulTimeoutMs: opts.gracefulTimeoutMs,
          });
          child?.kill('SIGKILL');
        }, opts.gracefulTimeoutMs + KILL_MARGIN_MS);
      }
      if (restartTimer) {
        // Between runs: nothing to drain.
        clearTimeout(restartTimer);
        return exit(0);
      }
    }
    if (!child) return;
    if (armed) child.kill(signal);
    else held.add(signal);
  });

  start();
}
