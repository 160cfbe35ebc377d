// The router's own pages (unknown host, errors): plain, with the status code,
// a one-line reason and what to do, in HTML for browsers and JSON for scripts.
// Status and reason come from the errors catalogue (core/errors.ts).
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERRORS, type ErrorCode } from '../core/errors.js';

export interface Page {
  status: number;
  code: string;
  title: string;
  hint: string;
  headers?: Record<string, string>;
}

/** A page for a catalogued error: its HTTP status and message, with a hint of what to do. */
export function errorPage(code: ErrorCode, details: Record<string, string>, hint: string, headers?: Record<string, string>): Page {
  const entry = ERRORS[code];
  return { status: entry.http, code, title: entry.message(details), hint, ...(headers ? { headers } : {}) };
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function render(accept: string | undefined, page: Page): { type: string; body: string } {
  const wantsJson = (accept ?? '').includes('application/json');
  const body = wantsJson
    ? JSON.stringify({ error: { status: page.status, code: page.code, message: page.title, hint: page.hint } })
    : `<!doctype html><html><head><meta charset="utf-8"><title>${page.status} ${escapeHtml(page.title)}</title></head>` +
      `<body style="font-family:sans-serif;max-width:40em;margin:4em auto"><h1>${escapeHtml(page.title)}</h1>` +
      `<p>${escapeHtml(page.hint)}</p><p><small>${page.status} &middot; ${page.code} &middot; Shipoff</small></p></body></html>\n`;
  return { type: wantsJson ? 'application/json' : 'text/html; charset=utf-8', body };
}

/** Sends PAGE as the response; returns the body bytes sent. */
export function sendPage(req: IncomingMessage, res: ServerResponse, page: Page): number {
  const { type, body } = render(req.headers.accept, page);
  const length = Buffer.byteLength(body);
  res.writeHead(page.status, {
    'content-type': type,
    'content-length': length,
    'cache-control': 'no-store',
    ...page.headers,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return req.method === 'HEAD' ? 0 : length;
}

/** The same page written on a raw socket (a WebSocket upgrade that cannot be served), then closed. */
export function sendPageOnSocket(req: IncomingMessage, socket: Duplex, page: Page): void {
  if (!socket.writable) return void socket.destroy();
  const { type, body } = render(req.headers.accept, page);
  const headers = { 'content-type': type, 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store', connection: 'close', ...page.headers };
  const head = `HTTP/1.1 ${page.status} ${STATUS_CODES[page.status] ?? ''}\r\n` + Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n';
  socket.end(head + body);
  // A client that never reads must not keep the socket open.
  setTimeout(() => socket.destroy(), 5_000).unref();
}
