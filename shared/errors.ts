// Errors with stable codes (undici style): callers branch on `code`, users read `message`.

export type HostdErrorCode =
  | 'HOSTD_UWS_NOT_NATIVE'
  | 'HOSTD_CONFIG'
  | 'HOSTD_LISTEN'
  | 'HOSTD_ADDRESS_IN_USE'
  | 'HOSTD_APP_LOAD'
  | 'HOSTD_APP_START_TIMEOUT'
  | 'HOSTD_USAGE'
  | 'HOSTD_CLOSED'
  | 'HOSTD_NO_SITE'
  | 'HOSTD_FRONT_FAILED'
  | 'HOSTD_SIGNAL_REFUSED'
  | 'HOSTD_PROCESS_REFUSED'
  | 'HOSTD_BAD_FRAME'
  // --user: the drop from root did not happen, or did not hold (hostd exits rather than run as root).
  | 'HOSTD_PRIVILEGES'
  // `hostd status` / `hostd reload`: no hostd answers on the status listener.
  | 'HOSTD_NOT_RUNNING';

export class HostdError extends Error {
  readonly code: HostdErrorCode;
  constructor(code: HostdErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HostdError';
    this.code = code;
  }
}

/** An error as the error log shows it: the stack when there is one. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  return `non-Error thrown: ${String(err)}`;
}
