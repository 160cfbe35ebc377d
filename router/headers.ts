// What the router changes in headers on the way through, in both directions:
// hop-by-hop headers are dropped (RFC 9110 §7.6.1), the X-Forwarded-* set is
// the router's own (a client's values are overwritten, as Dokku's nginx does),
// and every request carries an X-Request-Id, the client's when it is sane.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Never forwarded, either way (lower case). Upgrade and Connection come back only for upgrades. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
]);

/** Set by the router on every request; whatever the client sent under these names is dropped. */
const ROUTER_SET = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-request-id']);

const REQUEST_ID = /^[A-Za-z0-9+/=_-]{20,200}$/;

/** The client's X-Request-Id when it is 20–200 characters of [A-Za-z0-9+/=_-] (as Heroku keeps it), else a new one. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/** The header names a Connection header lists, lower case (they are hop-by-hop too). */
function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  const tokens = new Set<string>();
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const t = part.trim().toLowerCase();
    if (t) tokens.add(t);
  }
  return tokens.size > 0 ? tokens : undefined;
}

export interface Forwarded {
  for: string;
  proto: string;
  host: string;
  port: string;
  requestId: string;
}

export function forwardedOf(req: IncomingMessage, requestId: string): Forwarded {
  const socket = req.socket as IncomingMessage['socket'] & { encrypted?: boolean };
  return {
    for: socket.remoteAddress ?? '',
    proto: socket.encrypted ? 'https' : 'http',
    host: req.headers.host ?? '',
    port: String(socket.localPort ?? ''),
    requestId,
  };
}

/**
 * The request headers to send upstream, as a flat [name, value, …] list in the
 * client's order and spelling: hop-by-hop ones, those Connection names, Expect
 * (the router answers 100-continue itself) and the router's own dropped, then
 * the router's own appended. With `upgrade`, Connection: upgrade and Upgrade stay.
 */
export function upstreamRequestHeaders(req: IncomingMessage, fwd: Forwarded, upgrade = false): string[] {
  const raw = req.rawHeaders;
  const named = connectionTokens(req.headers.connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || ROUTER_SET.has(lower) || lower === 'expect') continue;
    if (named?.has(lower)) continue;
    out.push(name, raw[i + 1]!);
  }
  if (upgrade) out.push('Connection', 'Upgrade', 'Upgrade', String(req.headers.upgrade ?? ''));
  out.push(
    'X-Forwarded-For', fwd.for,
    'X-Forwarded-Proto', fwd.proto,
    'X-Forwarded-Host', fwd.host,
    'X-Forwarded-Port', fwd.port,
    'X-Request-Id', fwd.requestId,
  );
  return out;
}

/** A flat [name, value, …] list as a headers object with lower-case names (repeats joined by a comma). */
export function headersObject(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!.toLowerCase();
    out[name] = name in out ? `${out[name]}, ${flat[i + 1]}` : flat[i + 1]!;
  }
  return out;
}

/**
 * The response headers to send to the client, from undici's parsed headers
 * (lower-case names, arrays for repeats): hop-by-hop ones and those the
 * upstream's Connection names dropped, X-Request-Id set to the request's.
 */
export function clientResponseHeaders(headers: Record<string, string | string[] | undefined>, requestId: string): Record<string, string | string[]> {
  const named = connectionTokens(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || name === 'x-request-id' || named?.has(name)) continue;
    out[name] = value;
  }
  out['x-request-id'] = requestId;
  return out;
}
