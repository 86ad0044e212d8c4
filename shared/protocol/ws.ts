// WebSocket constants both ends of a data port agree on (the messages are in table.ts).
//
// The division of labour: the front terminates every WebSocket (uWS does framing, masking,
// compression, pings, fan-out); a worker sees whole messages and sends whole messages, over the
// same data port as its HTTP traffic, under the id of the upgrade request that opened the socket.

/** Opcodes as RFC 6455 numbers them; wsSend flags and wsMessage carry them. */
export const WS_TEXT = 1;
export const WS_BINARY = 2;
export const WS_PING = 9;
export const WS_PONG = 10;
/** wsSend/wsPublish flag bits above the opcode. */
export const WS_OPCODE_MASK = 0x0f;
/** Do not compress this message even where permessage-deflate was negotiated. */
export const WS_NO_COMPRESS = 0x10;

/** wsEnd code: cut the connection without a close frame (ws's terminate()). */
export const WS_TERMINATE = -1;

/** Close codes hostd itself sends (RFC 6455 section 7.4.1 and the IANA registry). */
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
/** No close frame was received (the peer vanished, or the front cut the connection). */
export const CLOSE_ABNORMAL = 1006;
export const CLOSE_POLICY = 1008;
export const CLOSE_TOO_BIG = 1009;
export const CLOSE_INTERNAL_ERROR = 1011;
export const CLOSE_SERVICE_RESTART = 1012;
/** The client sent more than the app has handled yet (websocket.maxPendingBytes). */
export const CLOSE_TRY_AGAIN = 1013;
export const CLOSE_TRY_AGAIN_REASON = 'Too Many Unhandled Messages';

/** Below this many bytes of backlog a pressured socket counts as drained again (drain fires). */
export const WS_LOW_WATER = 16 * 1024;
/** The front reports a socket's written bytes at least this often (wsBuffered), pressured or not. */
export const WS_ACK_BYTES = 256 * 1024;
/**
 * Bytes a worker may have sent on a socket beyond what the front has reported written before
 * send() says -1: the front is behind (it writes what it has before it reports), even if the
 * client is not. Above WS_ACK_BYTES, so a steady stream never sees -1 for the acks' lag alone.
 */
export const WS_IN_FLIGHT_HIGH = 1024 * 1024;

/**
 * What a message from the client counts against websocket.maxPendingBytes until the worker
 * acknowledges it (wsAck): its payload, plus what carrying it costs even when it is empty (its
 * slot in a batch, its event in the worker), so a flood of empty messages is bounded too.
 */
export const WS_MESSAGE_OVERHEAD = 64;

export function wsMessageCost(payloadBytes: number): number {
  return payloadBytes + WS_MESSAGE_OVERHEAD;
}
