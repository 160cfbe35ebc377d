// The router's own pages (unknown host, errors): plain, with the status code,
// a one-line reason and what to do, in HTML for browsers and JSON for scripts.
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface Page {
  status: number;
  code: string;
  title: string;
  hint: string;
  headers?: Record<string, string>;
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function sendPage(req: IncomingMessage, res: ServerResponse, page: Page): void {
  const wantsJson = (req.headers.accept ?? '').includes('application/json');
  const body = wantsJson
    ? JSON.stringify({ error: { status: page.status, code: page.code, message: page.title, hint: page.hint } })
    : `<!doctype html><html><head><meta charset="utf-8"><title>${page.status} ${escapeHtml(page.title)}</title></head>` +
      `<body style="font-family:sans-serif;max-width:40em;margin:4em auto"><h1>${escapeHtml(page.title)}</h1>` +
      `<p>${escapeHtml(page.hint)}</p><p><small>${page.status} &middot; ${page.code} &middot; Shipoff</small></p></body></html>\n`;
  res.writeHead(page.status, {
    'content-type': wantsJson ? 'application/json' : 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...page.headers,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
