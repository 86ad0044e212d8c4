// The entry of fronts 1..N-1 (worker threads; front 0 runs on the main thread). A front thread
// never runs user code; if hostd's own code in it fails, the host cannot go on at reduced
// capacity unnoticed: the control thread logs it and the process exits (the supervisor restarts it).
import { workerData, type MessagePort } from 'node:worker_threads';
import { errorText } from '../../shared/errors.js';
import { loadUws } from '../http/uws.js';
import type { FrontEvent, FrontInit } from './messages.js';
import { FrontRuntime } from './runtime.js';

const { port, init } = workerData as { port: MessagePort; init: FrontInit };
process.on('uncaughtException', (err) => {
  port.postMessage({ t: 'fatal', error: errorText(err) } satisfies FrontEvent);
});
loadUws();
new FrontRuntime(init, port);
