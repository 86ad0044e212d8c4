// An example app: a Web-standard fetch handler, the interface Hono, Bun, Deno and Workers use.
interface Env {
  GREETING?: string;
}

export default {
  async fetch(request: Request, env: Env, ctx: { remoteAddress: string; mount: string; requestId: string }): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === '/api/time') return Response.json({ now: new Date().toISOString(), requestId: ctx.requestId });
    if (url.pathname === '/api/echo' && request.method === 'POST') {
      return new Response(request.body, { headers: { 'content-type': request.headers.get('content-type') ?? 'application/octet-stream' } });
    }
    const html = `<!doctype html><title>hostd</title><link rel="stylesheet" href="/assets/site.css">
<h1>${env.GREETING ?? 'Hello'}</h1>
<p>This page came from a worker thread; <a href="/static/about.html">this one</a> from the front's static server.</p>
<p>You are ${ctx.remoteAddress}; request ${ctx.requestId}.</p>`;
    return new Response(html, { headers: { 'content-type': 'text/html; charset=utf-8' } });
  },
};
