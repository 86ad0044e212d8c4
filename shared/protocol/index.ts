// The wire protocol between fronts, the control thread and daemon workers: message tables,
// the encoders/decoders derived from them, flow-control constants and the piscina task shapes.
import { decoderFor, outboxFor } from './codec.js';
import { TO_CONTROL, TO_FRONT, TO_WORKER, TO_WORKER_CONTROL } from './table.js';

export { LOG_ERROR, LOG_INFO, LOG_WARN, TO_CONTROL, TO_FRONT, TO_WORKER, TO_WORKER_CONTROL } from './table.js';
export { Outbox, type Decoder, type Handlers, type PortLike } from './codec.js';
export * from './tasks.js';

/** Front → worker data port. */
export const WorkerOutbox = outboxFor(TO_WORKER);
export type WorkerOutbox = InstanceType<typeof WorkerOutbox>;
export const decodeToWorker = decoderFor(TO_WORKER);
export type WorkerHandlers = import('./codec.js').Handlers<typeof TO_WORKER>;

/** Worker → front data port. */
export const FrontOutbox = outboxFor(TO_FRONT);
export type FrontOutbox = InstanceType<typeof FrontOutbox>;
export const decodeToFront = decoderFor(TO_FRONT);
export type FrontHandlers = import('./codec.js').Handlers<typeof TO_FRONT>;

/** Control → worker control port. */
export const WorkerControlOutbox = outboxFor(TO_WORKER_CONTROL);
export type WorkerControlOutbox = InstanceType<typeof WorkerControlOutbox>;
export const decodeToWorkerControl = decoderFor(TO_WORKER_CONTROL);
export type WorkerControlHandlers = import('./codec.js').Handlers<typeof TO_WORKER_CONTROL>;

/** Worker → control port. */
export const ControlOutbox = outboxFor(TO_CONTROL);
export type ControlOutbox = InstanceType<typeof ControlOutbox>;
export const decodeToControl = decoderFor(TO_CONTROL);
export type ControlHandlers = import('./codec.js').Handlers<typeof TO_CONTROL>;

/**
 * Response bodies of at least this many bytes travel in a buffer the worker owns and transfers
 * (smaller ones are structured-cloned); resFull bodies that size come back in bufReturn.
 */
export const TRANSFER_MIN = 4096;
/** Bytes of response body a worker may have outstanding (sent, not yet credited) per request. */
export const RESPONSE_WINDOW = 1 << 20;
/** Bytes of request body the front may have outstanding (sent or buffered, not credited) per request. */
export const UPLOAD_WINDOW = 1 << 20;
