// The worker-side process guard: an app runs in a worker thread of hostd's own process, so the
// `process` it sees can signal hostd itself. `installProcessGuard()` (called by entry.ts before
// any app is imported) closes the JavaScript routes that take the whole host down:
//
// - `process.kill(pid, sig)` / `process._kill`: refused (HOSTD_SIGNAL_REFUSED) when the target is
//   hostd's pid, any thread of it (Linux delivers kill(tid) to the whole thread group), its parent
//   (the supervisor, or init/systemd when unsupervised), pid 0 (our process group), -1 (every
//   process we may signal), or the process group (negative pid) of hostd or of its parent. Other
//   groups stay allowed: `process.kill(-child.pid)` is how an app stops a detached child and its
//   descendants. Signal 0 (an existence probe) is allowed everywhere: it delivers nothing.
// - `process.abort()`: Node 20 already refuses it in workers; we refuse it first with our code
//   so that the attempt is logged even when the app catches the error.
// - `os.setPriority(pid, n)` aimed at another thread of hostd (the front thread's tid is the pid):
//   refused, so an app cannot starve the front. pid 0 (the calling worker thread) is allowed.
//
// Every refusal throws a HostdError in the app and writes one line to hostd's error log (tagged
// with the mount by the front), through the sink captured by forwardConsole: an app that replaces
// console.* cannot hide it.
//
// What no in-process guard can stop (the supervisor is the answer to these, see
// native-front/supervisor/): a native addon (`process.dlopen`) calling kill(2)/abort(3)/exit(3);
// a child process the app starts (`child_process.execSync('kill -9 ' + process.pid)`, or
// `process.binding('spawn_sync')`); writes to /proc/self/mem. Worker threads share the process:
// they contain faults (throws, exits, busy loops, heap exhaustion), not hostile code.
import { existsSync, readFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import { HostdError } from '../../shared/errors.js';
import { LOG_ERROR } from '../../shared/protocol/index.js';
import { reportToHost } from './log-forward.js';

const signalNames = new Map<number, string>(Object.entries(os.constants.signals).map(([name, n]) => [n, name]));

/** The process group of `pid` (field 5 of /proc/PID/stat), or undefined where there is no /proc. */
function processGroup(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses; the last ')' ends it.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return undefined;
  }
}

/**
 * In a daemon process (pool.isolation: process) the worker's process is not hostd: signalling it
 * (or aborting it) costs that process only, as a crash would, and hostd is `hostPid`. Under another
 * user the kernel already refuses every signal to hostd (EPERM), so the guard steps aside.
 */
let daemonProcess: { hostPid: number; sameUser: boolean } | null = null;

export function guardDaemonProcess(scope: { hostPid: number; sameUser: boolean }): void {
  daemonProcess = scope;
}

function daemonProcessTarget(pid: number, host: number): string | undefined {
  if (pid === host) return 'hostd itself';
  if (pid === -1) return 'every process hostd may signal';
  if (pid < -1 && (-pid === host || -pid === processGroup(host))) return `hostd's process group ${-pid}`;
  if (pid > 0 && existsSync(`/proc/${host}/task/${pid}`)) return `thread ${pid} of hostd`;
  return undefined;
}

/** Why signalling `pid` would hit hostd, or undefined when it would not. */
export function hostTarget(pid: number): string | undefined {
  if (daemonProcess !== null) return daemonProcess.sameUser ? daemonProcessTarget(pid, daemonProcess.hostPid) : undefined;
  if (pid === process.pid) return 'hostd itself';
  if (pid === 0) return "hostd's process group";
  if (pid === -1) return 'every process hostd may signal';
  if (pid < 0) {
    const group = -pid;
    const ours = processGroup(process.pid);
    // Without /proc we cannot tell whose group it is: refuse every group.
    if (ours === undefined || group === ours || group === process.pid) return `hostd's process group ${group}`;
    if (group === processGroup(process.ppid) || group === process.ppid) return `the process group ${group} of hostd's parent`;
    return undefined;
  }
  if (pid === process.ppid) return "hostd's parent (its supervisor)";
  // A thread id of this process: kill(2) delivers to the whole thread group.
  if (existsSync(`/proc/${process.pid}/task/${pid}`)) return `thread ${pid} of hostd`;
  return undefined;
}

function refuse(code: 'HOSTD_SIGNAL_REFUSED' | 'HOSTD_PROCESS_REFUSED', what: string): never {
  const err = new HostdError(code, `${what} refused: an app cannot stop or signal the host (${code})`);
  Error.captureStackTrace(err, refuse);
  // The app's own frames say who tried; the first lines are enough for the log.
  const where = (err.stack ?? '').split('\n').slice(1, 6).join('\n');
  reportToHost(LOG_ERROR, `${err.message}\n${where}`);
  throw err;
}

let installed = false;

export function installProcessGuard(): void {
  if (installed) return;
  installed = true;
  const proc = process as unknown as {
    _kill(pid: number, sig: number): number;
    abort(): never;
  };

  // process.kill validates its arguments, maps signal names to numbers and then calls
  // process._kill: guarding _kill covers both, and apps calling _kill directly.
  const nativeKill = proc._kill;
  const guardedKill = function _kill(pid: number, sig: number): number {
    if (sig !== 0) {
      const target = hostTarget(pid);
      if (target !== undefined) refuse('HOSTD_SIGNAL_REFUSED', `process.kill(${pid}, ${signalNames.get(sig) ?? sig}) aimed at ${target}`);
    }
    return nativeKill.call(process, pid, sig);
  };
  Object.defineProperty(process, '_kill', { value: guardedKill, writable: false, configurable: false, enumerable: true });

  Object.defineProperty(process, 'abort', {
    value: function abort(): never {
      // A daemon process is the app's own: abort() ends it as abort(3) would (SIGABRT), and hostd
      // answers its requests 502 and starts another.
      if (daemonProcess !== null) {
        nativeKill.call(process, process.pid, os.constants.signals.SIGABRT);
        // abort(3) does not return: the signal may be taken by another thread of the process, so
        // this one waits for the end rather than answer anything meanwhile.
        for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
      }
      refuse('HOSTD_PROCESS_REFUSED', 'process.abort()');
    },
    writable: false,
    configurable: false,
    enumerable: true,
  });

  // The CommonJS exports object is what `import os from 'node:os'` and require('os') share;
  // syncBuiltinESMExports() then updates `import { setPriority } from 'node:os'` too.
  const setPriority = os.setPriority;
  os.setPriority = ((pidOrPriority: number, priority?: number): void => {
    if (priority !== undefined && pidOrPriority !== 0) {
      const target = hostTarget(pidOrPriority);
      if (target !== undefined) refuse('HOSTD_PROCESS_REFUSED', `os.setPriority(${pidOrPriority}, ${priority}) aimed at ${target}`);
      return setPriority(pidOrPriority, priority);
    }
    return priority === undefined ? setPriority(pidOrPriority) : setPriority(pidOrPriority, priority);
  }) as typeof os.setPriority;
  syncBuiltinESMExports();
}
