// The package entry: the programmatic API (README "Embedding: the programmatic API").
export { createHost, Host, ConfigError, type HostOptions } from './native-front/control/host.js';
export { HostdError, type HostdErrorCode } from './shared/errors.js';
export type {
  VhostConfig,
  StaticMountConfig,
  AppMountConfig,
  PoolConfig,
  TlsConfig,
  Duration,
  ResolvedVhost,
  ConfigProblem,
} from './shared/config/types.js';
export type {
  App,
  AppContext,
  FetchHandler,
  ServerWebSocket,
  UpgradeOptions,
  WebSocketHandlers,
} from './daemon/app/types.js';
