// Dispatch of dynamic (apps) mounts to their daemon pools.
export { createAppMount, checkApp, type AppMount, type AppMountDeps, type PoolStats } from './app-mount.js';
