// The worker thread's entry (piscina's `filename`). Piscina runs exactly one task per worker:
// either `check` (load the app once, report) or `serve`, which never resolves: the worker
// serves its ports until the pool terminates it (after `drained`, or when it must kill it). One
// task per thread means a recycled or rolled worker is always a fresh isolate.
import { threadId } from 'node:worker_threads';
import { loadApp } from '../app/load.js';
import { AddressQuery } from '../../shared/protocol/address-query.js';
import { Board } from '../../shared/protocol/board.js';
import {
  ControlOutbox,
  decodeToWorkerControl,
  LOG_ERROR,
  LOG_INFO,
  LOG_WARN,
  type CheckResult,
  type CheckTask,
  type ServeTask,
} from '../../shared/protocol/index.js';
import { installLightFetchGlobals } from './globals.js';
import { listenForFronts } from '../process/front-sockets.js';
import { BODY_PIECE } from '../../shared/protocol/framing.js';
import { installDirectNode } from '../app/node-direct.js';
import { FrontLink } from './link.js';
import { guardDaemonProcess, installProcessGuard } from './guard.js';
import { forwardConsole } from './log-forward.js';
import { WorkerServer } from './server.js';
import { WorkerWs } from './ws/worker-ws.js';
import { setSessionClaimer } from '../app/engine-io.js';
import { watchSocketIo } from '../app/socketio/install.js';
import { ThreadTransport } from '../app/socketio/channel.js';

installProcessGuard(); // before any app is imported: apps cannot signal or abort the host

// loadApp's message names the module, the reason and the (source-mapped) location: one line,
// fit for `hostd check` and the error log.
function loadErrorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function serve(task: ServeTask): Promise<never> {
  const control = new ControlOutbox(task.control);
  if (task.daemonProcess) guardDaemonProcess(task.daemonProcess);
  let server: WorkerServer | null = null;
  forwardConsole((level, text) => control.log(level, text, ''));
  process.on('unhandledRejection', (reason) => {
    const text = reason instanceof Error ? (reason.stack ?? reason.message) : String(reason);
    control.log(LOG_ERROR, `unhandled rejection: ${text}`, '');
  });
  installLightFetchGlobals(); // before the app is imported: it may keep a reference to Response
  // socket.io's broadcasts reach every worker of the pool (daemon/app/socketio).
  watchSocketIo(new ThreadTransport(task.group, String(task.key)), {
    notice: (t) => control.log(LOG_INFO, t, ''),
    warn: (t) => control.log(LOG_WARN, t, ''),
  });
  installDirectNode();
  try {
    // In a daemon process the thread takes the fronts on a socket of its own, listening before the
    // app loads: a front connects once the thread is ready (daemon/process/front-sockets.ts).
    const ports = task.daemonProcess ? await listenForFronts(task.daemonProcess.socket, task.daemonProcess.fronts) : task.links;
    const app = await loadApp(task.modulePath, {
      interface: task.interface,
      cacheDir: task.cacheDir,
      entry: task.entry,
      cwd: task.cwd,
      notice: (text) => control.log(LOG_INFO, text, ''),
    });
    const board = new Board(task.board);
    // Node-style apps get the prefix stripped by their adapter (req.url relative, req.originalUrl whole).
    const s = new WorkerServer(
      app.fetch,
      task.env,
      task.mount,
      task.stripPrefix && app.interface === 'fetch',
      task.compression,
      control,
      board,
    );
    s.node = app.node ?? null;
    const piece = task.daemonProcess ? BODY_PIECE : undefined;
    s.links = ports.map((port, i) => new FrontLink(i, port, s, board, new AddressQuery(task.addresses[i], port), piece));
    s.ws = new WorkerWs(s, board, app.websocket ?? null);
    s.ws.attach(s.links);
    setSessionClaimer((key) => s.ws!.claim(key));
    server = s;
    control.ready(threadId, '');
  } catch (err) {
    control.ready(threadId, loadErrorText(err));
  }
  control.flush();
  // Listen even after a load failure: the open port keeps this thread alive until the pool
  // terminates it, so a failed load is reported once rather than as an exit.
  task.control.on('message', (batch: unknown[]) => {
    if (server !== null) decodeToWorkerControl(batch, server);
  });
  return new Promise<never>(() => {});
}

async function check(task: CheckTask): Promise<CheckResult> {
  // What the app prints while loading travels back with the result: this thread's own stdout
  // would mix it into the report, and may not be flushed before the thread is torn down.
  const output: string[] = [];
  forwardConsole((_level, text) => output.push(text));
  try {
    const app = await loadApp(task.modulePath, { interface: task.interface, cacheDir: task.cacheDir, cwd: task.cwd });
    await new Promise((resolve) => setImmediate(resolve)); // listen() callbacks run on the next tick
    return { ok: true, interface: app.interface, output };
  } catch (err) {
    return { ok: false, error: loadErrorText(err), output };
  }
}

export default function run(task: ServeTask | CheckTask): Promise<unknown> {
  return task.kind === 'check' ? check(task) : serve(task);
}
