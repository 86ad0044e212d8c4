// One vhost object: names, listen address, TLS, redirect, compression, and its mounts.
import { mountLabel } from '../../log.js';
import { DEFAULT_COMPRESSION } from '../compression.js';
import { parseCidr } from '../cidr.js';
import { DEFAULT_LISTEN, parseListen, parseListenMapping } from '../listen.js';
import { normalizeServerName } from '../names.js';
import { describeValue, prefix } from '../schema.js';
import type { ConfigPath } from '../source.js';
import type { ListenAddress, ResolvedMount, ResolvedVhost, TlsConfig } from '../types.js';
import { type Ctx, existingFile, isObject, LISTEN_EXPECTED } from './context.js';
import { resolveApp, resolveCompression, resolveStatic } from './mounts.js';

/** `defaultName`: the site name when the vhost sets no `name:` (its file's name, or site-N). */
export function resolveVhostObject(
  obj: unknown,
  ctx: Ctx,
  file: string,
  defaultName: string,
  override?: ListenAddress,
): ResolvedVhost | undefined {
  const P = ctx.problems;
  P.shape(obj, 'vhost', []);
  if (!isObject(obj)) return undefined;
  // The pattern (letters, digits, ".", "_", "-") is the schema's: it goes in URLs, labels and logs.
  const name = typeof obj.name === 'string' && obj.name !== '' ? obj.name : defaultName;

  // serverName / default
  const isDefault = obj.default === true;
  const names: string[] = [];
  const sn = obj.serverName;
  const given: [string, ConfigPath][] =
    typeof sn === 'string'
      ? [[sn, ['serverName']]]
      : Array.isArray(sn)
        ? sn.flatMap((n, i): [string, ConfigPath][] => (typeof n === 'string' ? [[n, ['serverName', i]]] : []))
        : [];
  for (const [raw, p] of given) {
    const r = normalizeServerName(raw);
    if ('error' in r) P.add(p, r.error);
    else if (!names.includes(r.name)) names.push(r.name);
  }
  if (sn === undefined && !isDefault) {
    P.add([], 'missing required key "serverName" (or set default: true for the catch-all)');
  } else if (Array.isArray(sn) && sn.length === 0 && !isDefault) {
    P.add(['serverName'], 'must name at least one host (or set default: true for the catch-all)');
  }
  // One invariant for the router: "*" in serverNames <=> catch-all.
  if (isDefault && !names.includes('*')) names.push('*');

  // listen
  let listen: ListenAddress = { ...DEFAULT_LISTEN };
  if (typeof obj.listen === 'string') {
    const l = parseListen(obj.listen);
    if (l) listen = l;
    else P.add(['listen'], `${LISTEN_EXPECTED}, got ${describeValue(obj.listen)}`);
  } else if (typeof obj.listen === 'number') {
    listen = parseListen(obj.listen) ?? listen; // range errors come from the schema
  } else if (isObject(obj.listen)) {
    listen = listenMapping(obj.listen, ctx) ?? listen;
  }
  // --listen moves the address; whether connections carry a PROXY header stays the file's say
  // (the proxy in front still sends it).
  if (override)
    listen = listen.proxyProtocol
      ? { ...override, proxyProtocol: true, ...(listen.proxyTrust && { proxyTrust: listen.proxyTrust }) }
      : { ...override };

  // tls
  let tls: TlsConfig | undefined;
  if (isObject(obj.tls)) {
    const cert = typeof obj.tls.cert === 'string' ? existingFile(obj.tls.cert, ['tls', 'cert'], ctx) : undefined;
    const key = typeof obj.tls.key === 'string' ? existingFile(obj.tls.key, ['tls', 'key'], ctx) : undefined;
    if (cert && key) {
      tls = { cert, key };
      if (typeof obj.tls.passphrase === 'string') tls.passphrase = obj.tls.passphrase;
    }
  }

  // redirectHttps
  let redirectHttps: number | undefined;
  if (obj.redirectHttps === true) redirectHttps = 443;
  else if (typeof obj.redirectHttps === 'number') redirectHttps = obj.redirectHttps;

  // compression: the vhost's setting is the default of its mounts
  if (obj.compression !== undefined) ctx.compression = resolveCompression(obj.compression, ['compression'], ctx, DEFAULT_COMPRESSION);

  // mounts
  const mounts: ResolvedMount[] = [];
  const urls = new Map<string, ConfigPath>();
  const addMount = (m: ResolvedMount | undefined, p: ConfigPath) => {
    if (!m) return;
    const first = urls.get(m.url);
    if (first) P.add([...p, 'url'], `"${mountLabel(m.url)}" is already mounted by ${prefix(first).slice(0, -2)} of this vhost`);
    else urls.set(m.url, p);
    mounts.push(m);
  };
  if (Array.isArray(obj.static)) obj.static.forEach((m, i) => addMount(resolveStatic(m, ['static', i], ctx, true), ['static', i]));
  if (Array.isArray(obj.apps)) obj.apps.forEach((m, i) => addMount(resolveApp(m, ['apps', i], ctx, true), ['apps', i]));

  if (listen.proxyProtocol && isObject(obj.tls)) {
    // uWS reads a PROXY header only inside the TLS stream, and proxies send it before the
    // handshake: see docs/deploy.md. Terminate TLS at the proxy instead.
    P.add(
      ['listen', 'proxyProtocol'],
      'works on plain HTTP listeners only; with tls, terminate TLS at the proxy and send plain HTTP with the PROXY header',
    );
  }

  const vhost: ResolvedVhost = { name, file, serverNames: names, isDefault: names.includes('*'), listen, mounts };
  if (tls) vhost.tls = tls;
  if (redirectHttps !== undefined) vhost.redirectHttps = redirectHttps;
  return vhost;
}

/** `listen: { port, host, proxyProtocol }` (shape already checked by the schema). */
function listenMapping(m: Record<string, unknown>, ctx: Ctx): ListenAddress | undefined {
  // A bad port is the schema's to report.
  if (typeof m.port !== 'number' || !Number.isInteger(m.port) || m.port < 0 || m.port > 65535) return undefined;
  const pp = m.proxyProtocol;
  let proxyTrust: string[] | undefined;
  if (isObject(pp) && Array.isArray(pp.trust)) {
    // Shape (strings) is the schema's to report; what they say is checked here.
    proxyTrust = pp.trust.filter((t): t is string => typeof t === 'string');
    proxyTrust.forEach((t, i) => {
      const c = parseCidr(t);
      if (typeof c === 'string') ctx.problems.add(['listen', 'proxyProtocol', 'trust', i], c);
    });
  }
  const address = parseListenMapping({
    port: m.port,
    host: typeof m.host === 'string' ? m.host : undefined,
    proxyProtocol: pp === true || isObject(pp),
    proxyTrust,
  });
  if (!address) ctx.problems.add(['listen', 'host'], `expected an IP address or host name, got ${describeValue(m.host)}`);
  return address;
}
