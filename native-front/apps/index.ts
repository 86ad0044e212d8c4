// Dispatch of dynamic (apps) mounts to their pools' dispatchers on this front.
export { AppMount, fallbackHost } from './app-mount.js';
