// A log file: stdout/stderr or a file, written asynchronously through sonic-boom (pino's
// writer: buffers while a write is in flight, so a busy second becomes a few large writes) and
// reopenable on SIGUSR1 after logrotate renamed the file. The access and error logs use it on
// the control thread.
//
// Lines reach sonic-boom in batches (batch.ts), not one call per line or per event-loop turn:
// every write costs a submission to libuv's pool, and sonic-boom measures and copies what it
// appends to.
//
// A destination that cannot keep up (a slow disk, a full pipe nobody reads) must never stall or
// bloat hostd: sonic-boom buffers up to MAX_BUFFERED bytes, then drops what does not fit, and
// the lines dropped are counted (hostd_log_dropped_lines_total).
import { chownSync } from 'node:fs';
import sonicBoom from 'sonic-boom';
import { LineBatch } from './batch.js';

// sonic-boom is CommonJS: Node's ESM import sees only its module.exports.
const { SonicBoom } = sonicBoom;

const MAX_BUFFERED = 16 * 1024 * 1024;

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

export class LogFile {
  private readonly boom: InstanceType<typeof SonicBoom>;
  private readonly toFd: boolean;
  private closed = false;
  /** Text not yet handed to sonic-boom (batch.ts). */
  private readonly batch: LineBatch;
  /** Lines dropped because the destination could not keep up. */
  dropped = 0;

  /** `target` is a file path, or "-" for the standard stream `fd`. */
  constructor(
    private readonly target: string,
    fd: 1 | 2,
  ) {
    this.toFd = target === '-' || target === '';
    // Buffers, not strings: given a string, sonic-boom encodes it for the write and again, whole,
    // when the write completes (to cut off what was written): measured at a sixth of the thread.
    const common = { sync: false, maxLength: MAX_BUFFERED, contentMode: 'buffer' as const };
    this.boom = this.toFd ? new SonicBoom({ fd, ...common }) : new SonicBoom({ dest: target, mkdir: true, append: true, ...common });
    this.boom.on('error', (err: Error) => process.stderr.write(`hostd: log ${target}: ${err.message}\n`));
    this.batch = new LineBatch((text) => {
      this.boom.write(Buffer.from(text) as unknown as string); // contentMode 'buffer' (the typings say string)
    });
    this.boom.on('drop', (data: Buffer) => {
      this.dropped += countLines(data.toString('latin1'));
    });
  }

  /**
   * Resolves once the file is open (sonic-boom opens it asynchronously), rejects if it cannot be:
   * a --user drop waits for it, as only root may open some files.
   */
  opened(): Promise<void> {
    const boom = this.boom as unknown as { fd: number } & NodeJS.EventEmitter;
    if (this.toFd || boom.fd >= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      boom.once('ready', () => resolve());
      boom.once('error', reject);
    });
  }

  /**
   * Gives the file to `uid`:`gid` (a --user drop, control/privileges.ts): SIGUSR1 then reopens it
   * as that user. nginx hands its log files to its workers' user the same way.
   */
  chown(uid: number, gid: number): void {
    if (!this.toFd) chownSync(this.target, uid, gid);
  }

  /** Appends text (whole lines) to this turn's batch. */
  write(text: string): void {
    if (!this.closed) this.batch.push(text);
  }

  private handOver(): void {
    if (!this.closed) this.batch.flush();
  }

  reopen(): void {
    if (this.toFd || this.closed) return;
    this.handOver(); // lines written before the signal belong in the old file
    this.boom.reopen();
  }

  flush(): Promise<void> {
    this.handOver();
    return new Promise((resolve) => (this.closed ? resolve() : this.boom.flush(() => resolve())));
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.handOver();
    this.closed = true;
    return new Promise((resolve) => {
      if (this.toFd) return this.boom.flush(() => resolve());
      this.boom.once('close', () => resolve());
      this.boom.end();
    });
  }
}
