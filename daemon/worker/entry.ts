// The worker thread's entry (piscina's `filename`). Piscina runs exactly one task per worker:
// either `check` (load the app once, report) or `serve`, which never resolves: the worker
// serves its MessagePort until the front terminates the thread (after DRAINED, or when it must
// kill it). One task per thread means a recycled or rolled worker is always a fresh isolate.
import { threadId } from 'node:worker_threads';
import { loadApp } from '../app/load.js';
import { AddressQuery } from '../../shared/address-query.js';
import * as P from '../../shared/protocol.js';
import { installLightFetchGlobals } from './globals.js';
import { installProcessGuard } from './guard.js';
import { forwardConsole } from './log-forward.js';
import { WorkerServer } from './serve.js';

installProcessGuard(); // before any app is imported: apps cannot signal or abort the host

// loadApp's message names the module, the reason and the (source-mapped) location: one line,
// fit for `hostd check` and the error log.
function loadErrorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function serve(task: P.ServeTask): Promise<never> {
  const out = new P.Outbox(task.port);
  let server: WorkerServer | null = null;
  forwardConsole((level, text) => out.push4(P.LOG, level, text, ''));
  process.on('unhandledRejection', (reason) => {
    const text = reason instanceof Error ? (reason.stack ?? reason.message) : String(reason);
    out.push4(P.LOG, P.LOG_ERROR, `unhandled rejection: ${text}`, '');
  });
  installLightFetchGlobals(); // before the app is imported: it may keep a reference to Response
  try {
    const app = await loadApp(task.modulePath, {
      interface: task.interface,
      cacheDir: task.cacheDir,
      entry: task.entry,
      notice: (text) => out.push4(P.LOG, P.LOG_INFO, text, ''),
    });
    const addresses = new AddressQuery(task.address, task.port);
    server = new WorkerServer(app.fetch, task.env, task.mount, out, new Float64Array(task.started), addresses);
    out.push4(P.READY, threadId, '', app.interface);
  } catch (err) {
    out.push4(P.READY, threadId, loadErrorText(err), '');
  }
  out.flush();
  // Listen even after a load failure: the open port keeps this thread alive until the front
  // terminates it, so a failed load is reported once rather than as an exit.
  task.port.on('message', (batch: unknown[]) => {
    if (server !== null) server.onBatch(batch);
  });
  return new Promise<never>(() => {});
}

async function check(task: P.CheckTask): Promise<P.CheckResult> {
  // What the app prints while loading travels back with the result: this thread's own stdout
  // would mix it into the report, and may not be flushed before the thread is torn down.
  const output: string[] = [];
  forwardConsole((_level, text) => output.push(text));
  try {
    const app = await loadApp(task.modulePath, { interface: task.interface, cacheDir: task.cacheDir });
    await new Promise((resolve) => setImmediate(resolve)); // listen() callbacks run on the next tick
    return { ok: true, interface: app.interface, output };
  } catch (err) {
    return { ok: false, error: loadErrorText(err), output };
  }
}

export default function run(task: P.ServeTask | P.CheckTask): Promise<unknown> {
  return task.kind === 'check' ? check(task) : serve(task);
}
