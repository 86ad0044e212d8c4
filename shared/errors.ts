// Errors with stable codes (undici style): callers branch on `code`, users read `message`.

export type HostdErrorCode =
  | 'HOSTD_UWS_NOT_NATIVE'
  | 'HOSTD_CONFIG'
  | 'HOSTD_LISTEN'
  | 'HOSTD_APP_LOAD'
  | 'HOSTD_USAGE'
  | 'HOSTD_CLOSED'
  | 'HOSTD_SIGNAL_REFUSED'
  | 'HOSTD_PROCESS_REFUSED';

export class HostdError extends Error {
  readonly code: HostdErrorCode;
  constructor(code: HostdErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HostdError';
    this.code = code;
  }
}
