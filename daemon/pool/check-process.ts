// `hostd check` for a process pool: the app's module is loaded in a daemon process started as the
// pool's user, with its cwd and environment (daemon/process/entry.ts, `check`), never as hostd's
// user: the tenant's top-level code must not run as root just because the config is checked.
import { spawn } from 'node:child_process';
import type { ResolvedApp } from '../../shared/config/types.js';
import type { CheckResult, CheckTask } from '../../shared/protocol/index.js';
import type { FromProcess } from '../../shared/protocol/process-ipc.js';
import { processSpec } from './process-spec.js';

/** Runs `task` in a one-off daemon process of `cfg`'s pool; rejects if the process ends without an answer. */
export async function checkInProcess(cfg: ResolvedApp, task: CheckTask): Promise<CheckResult> {
  const spec = await processSpec(cfg, { fronts: 0, cacheDir: task.cacheDir });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [spec.file], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      serialization: 'advanced',
      uid: spec.uid,
      gid: spec.gid,
      cwd: spec.cwd,
      env: spec.init.env,
      detached: true,
    });
    child.on('message', (m: FromProcess) => {
      if (m.t === 'checked') resolve(m.result);
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => reject(new Error(`the daemon process ended (${signal ?? `code ${code}`})`)));
    child.send({ t: 'check', workerFile: spec.init.workerFile, env: spec.init.env, umask: spec.init.umask, task });
    // (hostd check exits when done: a process still loading is ended with it)
    child.unref();
  });
}
