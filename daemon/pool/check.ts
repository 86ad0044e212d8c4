// `hostd check`: load an app's module once, in a throwaway worker (never on the main thread:
// user code may have top-level side effects), and report why it does not load.
import { Piscina } from 'piscina';
import type { ResolvedApp } from '../../shared/config/types.js';
import type { CheckResult, CheckTask } from '../../shared/protocol/index.js';
import { checkInProcess } from './check-process.js';
import { workerEnv, workerFilename } from './worker-file.js';

export interface CheckOptions {
  cacheDir?: string;
  /** Gets what the app printed while loading (`hostd check` sends it to stderr). */
  onOutput?: (text: string) => void;
}

/** Resolves with the load error, or undefined when the module loads. */
export async function checkApp(cfg: ResolvedApp, opts: CheckOptions = {}): Promise<string | undefined> {
  const task: CheckTask = { kind: 'check', modulePath: cfg.module, interface: cfg.interface, cwd: cfg.pool.cwd, cacheDir: opts.cacheDir };
  // A process pool's app loads as it will run: in a daemon process, as the pool's user.
  const piscina =
    cfg.pool.isolation === 'process'
      ? null
      : new Piscina({
          filename: await workerFilename(),
          minThreads: 0,
          maxThreads: 1,
          atomics: 'disabled',
          env: workerEnv(cfg.pool),
          resourceLimits: cfg.pool.memoryLimitMb ? { maxOldGenerationSizeMb: cfg.pool.memoryLimitMb } : undefined,
        });
  // The same deadline as a pool's load: an import that never settles is a problem to report,
  // not a reason for `hostd check` to hang.
  const ms = cfg.pool.startTimeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(
      () => resolve({ ok: false, error: `the app did not finish loading within ${ms} ms (pool.startTimeout)`, output: [] }),
      ms,
    );
  });
  try {
    const run = piscina !== null ? (piscina.run(task) as Promise<CheckResult>) : checkInProcess(cfg, task);
    const res = await Promise.race([run, timeout]);
    if (opts.onOutput) for (const text of res.output) opts.onOutput(text);
    return res.ok ? undefined : (res.error ?? 'the app failed to load');
  } catch (err) {
    return `the app's worker died while loading it: ${err instanceof Error ? err.message : String(err)}`;
  } finally {
    clearTimeout(timer);
    await piscina?.destroy();
  }
}
