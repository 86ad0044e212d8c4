// The access log: Apache's combined format by default, or JSON lines. One line per request,
// formatted on the front that answered it when the response completes; the lines go to the
// control thread in batches, and the control thread's LogFile writes them.
import { LineBatch } from './batch.js';

export type LogFormat = 'combined' | 'vhost_combined' | 'json';

export const LOG_FORMATS: readonly LogFormat[] = ['combined', 'vhost_combined', 'json'];

/** What the front captured of a request while uWS's HttpRequest was still valid. */
export interface AccessRecord {
  /** The vhost's first server name ("*" for a catch-all). */
  vhost: string;
  /** The site name ("-" when no vhost took the request). */
  site: string;
  /** The port of the listener that took the request. */
  port: number;
  mount: string;
  method: string; // uppercase
  url: string; // path + query as sent
  host: string;
  remoteAddress: string;
  referer: string;
  userAgent: string;
  requestId: string;
  status: number;
  bytes: number;
  durationMs: number;
  /** A WebSocket's line, written when it closes (native-front/ws): status 101, bytes sent to the client. */
  websocket?: WsAccessFields;
}

export interface WsAccessFields {
  /** As uWS reported it: the peer's or hostd's close code, 1005 none given, 1006 no close frame. */
  closeCode: number;
  messagesIn: number;
  bytesIn: number;
  messagesOut: number;
  bytesOut: number;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
let clfSecond = -1;
let clfText = '';

/** "[10/Oct/2000:13:55:36 +0000]", recomputed once a second. */
function clfTime(now: number): string {
  const sec = Math.floor(now / 1000);
  if (sec !== clfSecond) {
    const d = new Date(sec * 1000);
    const p = (n: number) => String(n).padStart(2, '0');
    clfText = `[${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(
      d.getUTCMinutes(),
    )}:${p(d.getUTCSeconds())} +0000]`;
    clfSecond = sec;
  }
  return clfText;
}

const NEEDS_ESCAPE = /["\\\x00-\x1f\x7f]/;
/** A quoted field; the replacements run only for the rare value that needs them. */
const quote = (s: string) =>
  s === '' ? '"-"' : NEEDS_ESCAPE.test(s) ? `"${s.replace(/["\\]/g, '\\$&').replace(/[\x00-\x1f\x7f]/g, '')}"` : `"${s}"`;

/** One access-log line (with its newline). */
export function formatAccess(r: AccessRecord, format: LogFormat, now = Date.now()): string {
  if (format === 'json') {
    return (
      JSON.stringify({
        time: new Date(now).toISOString(),
        site: r.site,
        vhost: r.vhost,
        mount: r.mount || '/',
        method: r.method,
        path: r.url,
        status: r.status,
        bytes: r.bytes,
        duration_ms: Math.round(r.durationMs * 1000) / 1000,
        request_id: r.requestId,
        client: r.remoteAddress,
        host: r.host,
        referer: r.referer || undefined,
        user_agent: r.userAgent || undefined,
        websocket: r.websocket && {
          close_code: r.websocket.closeCode,
          messages_in: r.websocket.messagesIn,
          bytes_in: r.websocket.bytesIn,
          messages_out: r.websocket.messagesOut,
          bytes_out: r.websocket.bytesOut,
        },
      }) + '\n'
    );
  }
  const ws = r.websocket;
  // %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"; vhost_combined (Apache's) starts with
  // %v:%p, the site name and the listener's port: Apache's %v is the canonical ServerName, which a
  // catch-all ("*") lacks, and the site name is what split-logfile should split by.
  // A WebSocket's line adds its close code, lifetime in seconds and messages/bytes each way.
  const tail = ws
    ? ` ws_close=${ws.closeCode} ws_seconds=${(r.durationMs / 1000).toFixed(3)} ws_in=${ws.messagesIn}/${ws.bytesIn} ws_out=${ws.messagesOut}/${ws.bytesOut}`
    : '';
  const lead = format === 'vhost_combined' ? `${r.site}:${r.port} ` : '';
  return `${lead}${r.remoteAddress || '-'} - - ${clfTime(now)} ${quote(`${r.method} ${r.url} HTTP/1.1`)} ${r.status} ${
    r.bytes > 0 ? r.bytes : '-'
  } ${quote(r.referer)} ${quote(r.userAgent)}${tail}\n`;
}

/** A front's access log: formats each record and hands the lines to `sink` in batches (batch.ts). */
export class AccessWriter {
  private readonly batch: LineBatch;

  constructor(
    readonly format: LogFormat,
    sink: (text: string) => void,
  ) {
    this.batch = new LineBatch(sink);
  }

  write(r: AccessRecord): void {
    this.batch.push(formatAccess(r, this.format));
  }

  /** Hands over what is pending now (before a stats read or shutdown). */
  handOver(): void {
    this.batch.flush();
  }
}
