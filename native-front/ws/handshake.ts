// What RFC 6455 (section 4.2.1) requires of an opening handshake that uWS v20.30 does not check
// itself: it answers 101 to any Sec-WebSocket-Version, and a Sec-WebSocket-Key that is not the
// base64 of 16 bytes leaves the connection without an answer. The front refuses both before the
// app sees the upgrade.

/** The only version there is (RFC 6455 section 4.1); refusals name it. */
export const WS_VERSION = '13';

/** base64 of 16 bytes: 22 characters and "==". */
const KEY = /^[A-Za-z0-9+/]{22}==$/;

export interface HandshakeRefusal {
  status: number;
  why: string;
  headers?: Record<string, string>;
}

/** Why the handshake is refused (426 for the version, 400 for the key), or null when it is fine. */
export function handshakeRefusal(version: string, key: string): HandshakeRefusal | null {
  if (version.trim() !== WS_VERSION)
    return { status: 426, why: `WebSocket version ${JSON.stringify(version)} is not 13`, headers: { 'Sec-WebSocket-Version': WS_VERSION } };
  if (!KEY.test(key)) return { status: 400, why: 'Sec-WebSocket-Key is not the base64 of 16 bytes' };
  return null;
}
