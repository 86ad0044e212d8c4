// Response compression, for static files on the fronts and app responses in the workers: the
// negotiation rules, whole-body compression on the threadpool, and per-chunk-flushed streaming
// compression. No uWS in here: callers write bytes.
export {
  addVaryAcceptEncoding,
  chooseEncoding,
  DEFAULT_COMPRESSION,
  isCompressibleType,
  isCompressionCandidate,
  mediaType,
  negotiateCoding,
  negotiateEncoding,
  weakEtag,
} from './negotiate.js';
export type { Coding, CompressionSettings, EncodingChoice, EncodingInput } from './negotiate.js';
export { compressBody, compressionCounters, type CompressionCounters, type Levels } from './whole.js';
export { StreamCompressor } from './stream.js';
