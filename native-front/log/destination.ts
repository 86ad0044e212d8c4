// A log file: stdout/stderr or a file, written asynchronously through sonic-boom (pino's
// writer: buffers while a write is in flight, so a busy second becomes a few large writes) and
// reopenable on SIGUSR1 after logrotate renamed the file. The access and error logs extend it.
import sonicBoom from 'sonic-boom';

// sonic-boom is CommonJS: Node's ESM import sees only its module.exports.
const { SonicBoom } = sonicBoom;

export class LogFile {
  private readonly boom: InstanceType<typeof SonicBoom>;
  private readonly toFd: boolean;
  private closed = false;

  /** `target` is a file path, or "-" for the standard stream `fd`. */
  constructor(target: string, fd: 1 | 2) {
    this.toFd = target === '-' || target === '';
    this.boom = this.toFd
      ? new SonicBoom({ fd, sync: false })
      : new SonicBoom({ dest: target, mkdir: true, append: true, sync: false });
    this.boom.on('error', (err: Error) => process.stderr.write(`hostd: log ${target}: ${err.message}\n`));
  }

  protected emit(line: string): void {
    if (!this.closed) this.boom.write(line);
  }

  reopen(): void {
    if (!this.toFd && !this.closed) this.boom.reopen();
  }

  flush(): Promise<void> {
    return new Promise((resolve) => (this.closed ? resolve() : this.boom.flush(() => resolve())));
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => {
      if (this.toFd) return this.boom.flush(() => resolve());
      this.boom.once('close', () => resolve());
      this.boom.end();
    });
  }
}
