// The access log: Apache's combined format by default, or JSON lines. One line per request,
// written when the response completes.
import { LogFile } from './destination.js';

export type LogFormat = 'combined' | 'json';

/** What the front captured of a request while uWS's HttpRequest was still valid. */
export interface AccessRecord {
  vhost: string;
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

const quote = (s: string) => (s ? `"${s.replace(/["\\]/g, '\\$&').replace(/[\x00-\x1f\x7f]/g, '')}"` : '"-"');

export class AccessLog extends LogFile {
  constructor(
    target: string,
    readonly format: LogFormat = 'combined',
  ) {
    super(target, 1);
  }

  write(r: AccessRecord): void {
    const now = Date.now();
    if (this.format === 'json') {
      this.emit(
        JSON.stringify({
          time: new Date(now).toISOString(),
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
        }) + '\n',
      );
      return;
    }
    // %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"
    this.emit(
      `${r.remoteAddress || '-'} - - ${clfTime(now)} ${quote(`${r.method} ${r.url} HTTP/1.1`)} ${r.status} ${
        r.bytes > 0 ? r.bytes : '-'
      } ${quote(r.referer)} ${quote(r.userAgent)}\n`,
    );
  }

}
