// The test helpers, one module per concern:
//   host.ts           startHost (in process, with /status), spawnHostd / runCli (the real binary), quietLog
//   wait.ts           waitFor (poll a condition), withTimeout, sleep (only where time is the feature)
//   http.ts           getText / getJson, canConnect, freePort(s), RawClient / rawExchange (raw TCP)
//   status.ts         the /status document: readStatus, poolIn, statusBase
//   site.ts           makeSite: a temp site with a vhost file, static files and a versioned app
//   kitchen.ts        KITCHEN (the daemon tests' app) and releaseHeld for its /held route
//   load.ts           loadLoop: bounded concurrent load that counts every answer
//   tls.ts            selfSigned certificates (openssl)
//   users.ts          ensureTestUsers: the system users hostd-a and hostd-b (tests run as root)
//   prometheus.ts     a strict Prometheus text parser
//   redis.ts          startRedis: a throwaway redis-server on a loopback ephemeral port
//   socketio.ts       socket.io clients: ioEvent (the next matching event), ioGreeting
//   static-tree.ts    the static-file fixture tree
//   static-harness.ts a minimal uWS front around static mounts (ctx.done accounting)
export * from './host.js';
export * from './http.js';
export * from './kitchen.js';
export * from './load.js';
export * from './prometheus.js';
export * from './redis.js';
export * from './site.js';
export * from './socketio.js';
export * from './static-harness.js';
export * from './static-tree.js';
export * from './status.js';
export * from './tls.js';
export * from './users.js';
export * from './wait.js';
