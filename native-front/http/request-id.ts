// Request ids: an incoming X-Request-Id is kept when it looks sane; otherwise one is made from a
// per-process random prefix and a counter (unique, sortable, and far cheaper than a UUID).
import { randomBytes } from 'node:crypto';

const prefix = randomBytes(4).toString('hex');
let counter = 0;

export function newRequestId(): string {
  return `${prefix}-${(++counter).toString(36)}`;
}

const SANE = /^[\x21-\x7e]{1,200}$/;

export function acceptRequestId(header: string): string | undefined {
  return header !== '' && SANE.test(header) ? header : undefined;
}
