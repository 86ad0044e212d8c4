// One request per server and scenario before any measuring: a server that answers 404 or the
// wrong bytes very fast must not win a benchmark.

import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { Scenario } from './scenarios.js';
import { ECHO_SIZE } from './payloads.js';

export function verify(port: number, s: Scenario, host?: string, expectBytes?: Buffer): Promise<void> {
  const body = s.body ? Buffer.from(s.body.text) : s.method === 'POST' ? Buffer.alloc(ECHO_SIZE, 'x') : undefined;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (host) headers.host = host;
    for (const [k, v] of Object.entries(s.headers ?? {})) headers[k.toLowerCase()] = v;
    if (body) {
      headers['content-type'] = s.body?.type ?? 'application/octet-stream';
      headers['content-length'] = body.length;
    }
    const req = http.request({ host: '127.0.0.1', port, path: s.path, method: s.method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        let got = Buffer.concat(chunks);
        if (s.expectEncoding) {
          if (res.headers['content-encoding'] !== s.expectEncoding)
            return reject(
              new Error(
                `${s.method} ${s.path}: Content-Encoding ${res.headers['content-encoding'] ?? 'none'}, expected ${s.expectEncoding}`,
              ),
            );
          try {
            got = gunzipSync(got);
          } catch (err) {
            return reject(new Error(`${s.method} ${s.path}: body does not decode: ${(err as Error).message}`));
          }
        }
        // Without an expected body, a POST is an echo (unless it sent a body of its own).
        const want = s.expectBody ?? (body && !s.body ? body.toString() : undefined);
        if (res.statusCode !== 200)
          return reject(new Error(`${s.method} ${s.path}: status ${res.statusCode} (${got.subarray(0, 200).toString()})`));
        if (s.expectLength !== undefined && got.length !== s.expectLength)
          return reject(new Error(`${s.method} ${s.path}: ${got.length} bytes, expected ${s.expectLength}`));
        if (want !== undefined && got.toString() !== want)
          return reject(new Error(`${s.method} ${s.path}: wrong body (${got.subarray(0, 200).toString()})`));
        if (s.expectIncludes !== undefined && !got.toString().includes(s.expectIncludes))
          return reject(new Error(`${s.method} ${s.path}: the answer lacks ${JSON.stringify(s.expectIncludes)}`));
        if (expectBytes && !got.equals(expectBytes)) return reject(new Error(`${s.method} ${s.path}: bytes differ from the file`));
        resolve();
      });
    });
    req.setTimeout(10000, () => req.destroy(new Error(`${s.method} ${s.path}: no answer in 10 s`)));
    req.on('error', reject);
    req.end(body);
  });
}
