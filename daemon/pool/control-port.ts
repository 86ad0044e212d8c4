// A daemon worker's control port as the control thread hears it: the one `ready` report (the app
// loaded, or why not) and the log lines the worker forwards (its console, its errors). Kept apart
// from the worker set, which decides what a ready report means; this only decodes and logs.
import type { Logger } from '../../shared/log.js';
import { decodeToControl, LOG_ERROR, LOG_WARN, type ControlHandlers } from '../../shared/protocol/index.js';
import type { PoolWorker } from './worker.js';

/** Listens on `w`'s control port (without keeping the process alive); log lines go to `log`. */
export function listenToWorker(w: PoolWorker, log: Logger, onReady: (threadId: number, loadError: string) => void): void {
  const handlers: ControlHandlers = {
    ready: onReady,
    log: (level, text, requestId) => {
      // (threadId is -1 until ready: lines printed while the app loads carry no thread)
      const fields = { thread: w.threadId >= 0 ? w.threadId : undefined, requestId: requestId || undefined };
      if (level === LOG_ERROR) log.error(text, fields);
      else if (level === LOG_WARN) log.warn(text, fields);
      else log.info(text, fields);
    },
  };
  w.controlPort.on('message', (batch: unknown[]) => {
    if (w.state === 'dead') return;
    const bad = decodeToControl(batch, handlers);
    if (bad !== 0) log.error('daemon worker sent an unknown message', { tag: bad });
  });
  w.controlPort.unref();
}
