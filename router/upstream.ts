// The plain-HTTP hot path: one undici Pool of keep-alive connections per
// backend, and a dispatch handler that pipes the request body up and the
// response body down with backpressure both ways (nothing is buffered beyond
// a socket's own chunks). Why undici and not http-proxy: see router/README.md.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import type { Backend } from './route-table.js';
import { keyOf } from './route-table.js';

export interface UpstreamOptions {
  /** How long an app may take to start answering (and between two chunks of its answer): a 504 after. */
  timeoutMs: number;
  /**
   * Idle upstream connections are closed after this; it must stay below the
   * app's own keep-alive timeout (Node's default is 5 s) so the router never
   * sends a request on a connection the app is closing.
   */
  keepAliveMs: number;
  /** At most this many connections to one backend; more requests wait in its pool. */
  connectionsPerBackend: number;
}

export const DEFAULT_UPSTREAM: UpstreamOptions = { timeoutMs: 60_000, keepAliveMs: 4_000, connectionsPerBackend: 256 };

/** Keep-alive pools by backend, made on first use, closed when the backend leaves the route table. */
export class Upstreams {
  private readonly pools = new Map<string, Pool>();
  constructor(readonly options: UpstreamOptions) {}

  pool(backend: Backend): Pool {
    const key = keyOf(backend);
    let pool = this.pools.get(key);
    if (!pool) {
      const { timeoutMs, keepAliveMs, connectionsPerBackend } = this.options;
      pool = new Pool(`http://${backend.host.includes(':') ? `[${backend.host}]` : backend.host}:${backend.port}`, {
        connections: connectionsPerBackend,
        pipelining: 1,
        keepAliveTimeout: keepAliveMs,
        keepAliveMaxTimeout: keepAliveMs,
        // A backend's "Keep-Alive: timeout=N" is honoured minus this margin.
        keepAliveTimeoutThreshold: 1_000,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        connect: { timeout: Math.min(timeoutMs, 10_000) },
      });
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** How many backends have a pool now. */
  get size(): number {
    return this.pools.size;
  }

  /** Closes the backend's pool once its requests finish (a request in flight keeps going). */
  discard(backend: Backend): void {
    const key = keyOf(backend);
    const pool = this.pools.get(key);
    if (!pool) return;
    this.pools.delete(key);
    pool.close().catch(() => {});
  }

  /** Cuts every connection now (the router is shutting down). */
  async destroyAll(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => {})));
  }
}

/** What went wrong upstream, for the page (502 or 504) and the metrics. */
export type UpstreamErrorKind = 'refused' | 'reset' | 'timeout' | 'protocol';

export function kindOf(err: Error & { code?: string }): UpstreamErrorKind {
  switch (err.code) {
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
    case 'UND_ERR_DESTROYED':
      return 'reset';
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return 'timeout';
    default:
      return 'protocol';
  }
}

export interface ProxyCallbacks {
  /** The upstream failed before the response started: answer with a page. */
  onFailBeforeResponse(err: Error, kind: UpstreamErrorKind): void;
  /** The upstream failed after the response started (the client connection is cut), for logs and metrics. */
  onFailMidResponse(err: Error, kind: UpstreamErrorKind): void;
  /** The response head as it goes to the client (hop-by-hop removed, request id set). */
  responseHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]>;
}

/**
 * One proxied request (undici's DispatchHandler): response bytes go to the
 * client as they come; when the client's socket is full the upstream is
 * paused until it drains. When the client leaves, the upstream request is
 * aborted, which closes its connection (it cannot be reused mid-response).
 */
export class ProxyCall implements Dispatcher.DispatchHandler {
  /** Body bytes sent to the client. */
  bytes = 0;
  private controller: Dispatcher.DispatchController | undefined;
  private clientGone = false;
  private finished = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly callbacks: ProxyCallbacks,
  ) {
    res.once('close', () => {
      if (this.finished) return;
      this.clientGone = true;
      this.controller?.abort(new Error('the client closed the connection'));
    });
  }

  start(pool: Pool, req: IncomingMessage, headers: string[], hasBody: boolean): void {
    const opts: Dispatcher.DispatchOptions = { path: req.url ?? '/', method: req.method as Dispatcher.HttpMethod, headers, body: hasBody ? req : null };
    try {
      pool.dispatch(opts, this);
    } catch (err) {
      this.onResponseError(undefined, err as Error);
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientGone) controller.abort(new Error('the client closed the connection'));
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>, statusMessage?: string): void {
    if (statusCode < 200) return; // 1xx informational: the router's own server answered 100-continue already
    const res = this.res;
    if (this.clientGone || res.destroyed) return void controller.abort(new Error('the client closed the connection'));
    const out = this.callbacks.responseHeaders(headers);
    if (statusMessage) res.writeHead(statusCode, statusMessage, out);
    else res.writeHead(statusCode, out);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.bytes += chunk.length;
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.finished = true;
    this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    this.finished = true;
    if (this.clientGone) return; // our own abort: nothing to answer, nobody to answer
    const kind = kindOf(err as Error & { code?: string });
    if (this.res.headersSent) {
      this.callbacks.onFailMidResponse(err, kind);
      this.res.destroy();
      return;
    }
    this.callbacks.onFailBeforeResponse(err, kind);
  }
}
