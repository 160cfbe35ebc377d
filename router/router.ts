// The front door on SHIPOFF_HTTP_PORT: the host's own endpoints (/healthz,
// /metrics), handlers for the host's own names (git.<domain>), and every
// other APP.<domain> proxied to the app's live instances from the route table.
//
// Plain HTTP goes through undici pools (router/upstream.ts), WebSocket
// upgrades through http-proxy-3; router/README.md says why.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import type { Settings, Store } from '../core/index.js';
import type { DomainLookup } from './domains.js';
import { clientResponseHeaders, forwardedOf, headersObject, requestIdOf, upstreamRequestHeaders } from './headers.js';
import { PROMETHEUS_CONTENT_TYPE, RouterMetrics, type AppSeries } from './metrics.js';
import { errorPage, sendPage, sendPageOnSocket, type Page } from './pages.js';
import { keyOf, RouteTable, type Backend } from './route-table.js';
import { DEFAULT_UPSTREAM, ProxyCall, Upstreams, type UpstreamErrorKind } from './upstream.js';

export type HostHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** One request to an app, for its logs. */
export interface AccessRecord {
  /** When the request arrived (ISO 8601). */
  time: string;
  app: string;
  method: string;
  /** The request target as sent: path and query. */
  path: string;
  /** The status sent; 499 when the client left before any answer; 101 for a WebSocket that was switched. */
  status: number;
  /** Body bytes sent to the client. */
  bytes: number;
  durationMs: number;
  /** The instance that answered, "host:port"; undefined when none did (404, 503). */
  backend: string | undefined;
  requestId: string;
  /** What went wrong upstream, when something did. */
  upstreamError?: UpstreamErrorKind;
}

export interface RouterDeps {
  store: Pick<Store, 'ping' | 'backend'> & { apps: Pick<Store['apps'], 'find'> };
  settings: Pick<Settings, 'httpPort' | 'domain'>;
  log?: (line: string) => void;
  /** Where the apps run; the deployer keeps it current. */
  routes?: RouteTable;
  /** Handlers for names the host keeps for itself, by the first label: { git: … } answers git.<domain>. */
  hostHandlers?: Record<string, HostHandler>;
  /** Called once per request to an app, after its response ended (or the client left). */
  onAccess?: (record: AccessRecord) => void;
  /** How long an app may take to start answering, or between two chunks of its answer: 504 after. Default 60 s. */
  upstreamTimeoutMs?: number;
  /** Idle keep-alive connections to an app close after this; keep it below the apps' keep-alive timeout (Node's: 5 s). Default 4 s. */
  upstreamKeepAliveMs?: number;
  /** Wakes an app that has no backend because it sleeps (scale to zero); absent in a router without a deployer. */
  wake?: (app: string) => Promise<{ ok: boolean; reason?: string; attempted?: boolean }>;
  /** Requests that may wait for one app's wake; more get the 503 page at once. Default 1,000. */
  wakeQueueLimit?: number;
  /** How long a request waits for a wake before the 503 page. Default 30 s. */
  wakeTimeoutMs?: number;
  /** Custom domains (domains:add) to apps, and their certificates for HTTPS. */
  domains?: DomainLookup;
  /** With `domains`: a second listener for HTTPS on this port (0 = a free one), certificates chosen by SNI; same handler as HTTP. */
  httpsPort?: number;
  /**
   * Answers a request for a static release from its directory (routes.setStatic),
   * in this process: the host's own static server, never a file of the release.
   * Resolves once the response is under way; never rejects.
   */
  serveStatic?: (dir: string, req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;
}

export interface RouterServer {
  readonly server: http.Server;
  readonly routes: RouteTable;
  readonly metrics: RouterMetrics;
  listen(host?: string): Promise<AddressInfo>;
  /** The HTTPS listener, when deps.httpsPort is set. */
  readonly httpsServer: https.Server | undefined;
  /** Starts the HTTPS listener on deps.httpsPort. */
  listenHttps(host?: string): Promise<AddressInfo>;
  /** Stops accepting, lets requests in flight finish for up to graceMs, then cuts the rest. */
  close(graceMs?: number): Promise<void>;
}

async function healthz(deps: RouterDeps, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  let store = 'ok';
  try {
    await deps.store.ping();
  } catch (err) {
    store = `unreachable: ${(err as Error).message}`;
  }
  const healthy = store === 'ok';
  const body = JSON.stringify({ status: healthy ? 'ok' : 'unhealthy', store, backend: deps.store.backend, uptimeSeconds: Math.round(process.uptime()) });
  res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** The first label of HOST when HOST is <label>.<domain>, else undefined. */
export function labelUnder(host: string, domain: string): string | undefined {
  const suffix = '.' + domain;
  if (!host.endsWith(suffix)) return undefined;
  const label = host.slice(0, -suffix.length);
  return label && !label.includes('.') ? label : undefined;
}

const hostOf = (req: http.IncomingMessage): string => (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();

const hasBody = (req: http.IncomingMessage): boolean => {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
};

export function createRouter(deps: RouterDeps): RouterServer {
  const sockets = new Set<Socket>();
  const routes = deps.routes ?? new RouteTable();
  const metrics = new RouterMetrics();
  const timeoutMs = deps.upstreamTimeoutMs ?? DEFAULT_UPSTREAM.timeoutMs;
  const upstreams = new Upstreams({ ...DEFAULT_UPSTREAM, timeoutMs, keepAliveMs: deps.upstreamKeepAliveMs ?? DEFAULT_UPSTREAM.keepAliveMs });
  const unsubscribe = routes.onBackendGone((b) => upstreams.discard(b));
  const log = (line: string): void => deps.log?.(line);
  // A failing access-log consumer must not take the router down.
  const report = (record: AccessRecord): void => {
    try {
      deps.onAccess?.(record);
    } catch (err) {
      log(` !     access record for ${record.app}: ${(err as Error).message}`);
    }
  };
  const timeoutText = timeoutMs % 1000 === 0 ? `${timeoutMs / 1000} s` : `${timeoutMs} ms`;

  // WebSocket upgrades only. No agent: an upgraded connection is never reused.
  const wsProxy = createProxyServer({ xfwd: false });
  // An 'error' event without a listener would throw and end the process.
  wsProxy.on('error', (err, _req, socket) => {
    log(` !     websocket proxy: ${err.message}`);
    if (socket && 'destroy' in socket) (socket as Duplex).destroy();
  });
  const wsState = new WeakMap<http.IncomingMessage, { status: number }>();
  wsProxy.on('proxyReqWs', (proxyReq, req) => {
    const state = wsState.get(req);
    proxyReq.setTimeout(timeoutMs, () => proxyReq.destroy(Object.assign(new Error(`no answer within ${timeoutText}`), { code: 'ETIMEDOUT' })));
    proxyReq.once('upgrade', (r) => state && (state.status = r.statusCode ?? 101));
    proxyReq.once('response', (r) => state && (state.status = r.statusCode ?? 0));
  });

  const noAppPage = (host: string, requestId?: string): Page =>
    errorPage(
      'SHIPOFF_NO_SUCH_APP',
      { host },
      `Apps answer at http://APP.${deps.settings.domain}:${deps.settings.httpPort}/ once they are deployed with git push.`,
      requestId ? { 'x-request-id': requestId } : undefined,
    );
  const notRunningPage = (app: string, requestId: string): Page =>
    errorPage('SHIPOFF_APP_NOT_RUNNING', { app }, `It has no live release yet: deploy it with git push, or see its last deploy's output.`, {
      'retry-after': '5',
      'x-request-id': requestId,
    });
  const upstreamPage = (app: string, kind: UpstreamErrorKind, requestId: string): Page =>
    kind === 'timeout'
      ? errorPage('SHIPOFF_UPSTREAM_TIMEOUT', { app, limit: timeoutText }, 'The app is running but too slow to answer; see its logs.', { 'x-request-id': requestId })
      : errorPage('SHIPOFF_BAD_GATEWAY', { app }, 'The app is running but refused or dropped the connection; see its logs.', { 'x-request-id': requestId });

  /** The page for an app with no backend: 503 when it exists, 404 when it does not. */
  async function whyNoBackend(app: string, host: string, requestId: string): Promise<{ page: Page; exists: boolean }> {
    const exists = await deps.store.apps.find(app).catch(() => undefined);
    return exists ? { page: notRunningPage(app, requestId), exists: true } : { page: noAppPage(host, requestId), exists: false };
  }

  const waiting = new Map<string, number>();
  const wakeLimit = deps.wakeQueueLimit ?? 1_000;
  const wakeTimeoutMs = deps.wakeTimeoutMs ?? 30_000;

  /**
   * A request for an app with no backend waits for the app to wake. All the
   * requests that arrive meanwhile wait on the same wake, and go on in the
   * order they came (promise callbacks run in the order they were added).
   */
  function waitForWake(req: http.IncomingMessage, res: http.ServerResponse, app: string, host: string): void {
    const queued = waiting.get(app) ?? 0;
    if (!deps.wake || queued >= wakeLimit) return proxyToApp(req, res, app, host, true);
    waiting.set(app, queued + 1);
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<{ ok: false; reason: string }>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, reason: `not awake within ${wakeTimeoutMs} ms` }), wakeTimeoutMs);
    });
    void Promise.race([deps.wake(app).catch((err: Error) => ({ ok: false, reason: err.message, attempted: true })), timeout]).then((result) => {
      clearTimeout(timer);
      const left = (waiting.get(app) ?? 1) - 1;
      if (left > 0) waiting.set(app, left);
      else waiting.delete(app);
      // Only apps that had something to wake get series (unknown names must not grow the registry).
      if (queued === 0 && ('attempted' in result ? result.attempted !== false : true)) {
        metrics.wakeups.labels(app, result.ok ? 'ok' : 'failed').inc();
        if (result.ok) metrics.wakeDuration.labels(app).observe((performance.now() - started) / 1000);
      }
      if (res.destroyed || req.destroyed) return; // the client gave up meanwhile
      proxyToApp(req, res, app, host, true);
    });
  }

  function proxyToApp(req: http.IncomingMessage, res: http.ServerResponse, app: string, host: string, afterWake = false): void {
    const started = performance.now();
    const arrived = Date.now();
    const requestId = requestIdOf(req);
    const staticDir = deps.serveStatic ? routes.staticDirOf(app) : undefined;
    const backend = staticDir === undefined ? routes.pick(app) : undefined;
    if (!backend && staticDir === undefined && !afterWake && deps.wake) return waitForWake(req, res, app, host);
    if (backend || staticDir !== undefined) routes.touch(app);
    const record = (series: AppSeries | undefined, status: number, bytes: number, via: Backend | 'static' | undefined, upstreamError?: UpstreamErrorKind): void => {
      const durationMs = performance.now() - started;
      series?.observe(status, durationMs / 1000);
      if (!deps.onAccess) return;
      report({ time: new Date(arrived).toISOString(), app, method: req.method ?? '', path: req.url ?? '', status, bytes, durationMs, backend: via === 'static' ? 'static' : via ? keyOf(via) : undefined, requestId, ...(upstreamError ? { upstreamError } : {}) });
    };

    if (staticDir !== undefined) {
      // A static release: answered here from its files (GET and HEAD; 405 otherwise).
      const series = metrics.app(app);
      const done = routes.beginStatic(staticDir);
      series.inFlight.inc();
      res.setHeader('x-request-id', requestId);
      res.once('close', () => {
        done();
        series.inFlight.dec();
        const status = res.headersSent ? res.statusCode : 499;
        const length = Number(res.getHeader('content-length') ?? 0);
        const bytes = req.method === 'HEAD' || status === 304 || !Number.isFinite(length) ? 0 : length;
        record(series, status, bytes, 'static');
      });
      void deps.serveStatic!(staticDir, req, res);
      return;
    }

    if (!backend) {
      void whyNoBackend(app, host, requestId).then(({ page, exists }) => {
        const bytes = sendPage(req, res, page);
        // Only apps that exist get series of their own: unknown names must not grow the registry.
        record(metrics.app(exists ? app : ''), page.status, bytes, undefined);
      });
      return;
    }

    const series = metrics.app(app);
    const done = routes.begin(backend);
    series.inFlight.inc();
    let upstreamError: UpstreamErrorKind | undefined;
    let pageBytes = 0;
    const fwd = forwardedOf(req, requestId);
    const call = new ProxyCall(res, {
      responseHeaders: (headers) => clientResponseHeaders(headers, requestId),
      onFailBeforeResponse(err, kind) {
        upstreamError = kind;
        series.upstreamError(kind);
        log(` !     proxy to ${app} (${keyOf(backend)}): ${err.message}`);
        pageBytes = sendPage(req, res, upstreamPage(app, kind, requestId));
      },
      onFailMidResponse(err, kind) {
        upstreamError = kind;
        series.upstreamError(kind);
        log(` !     proxy to ${app} (${keyOf(backend)}) cut mid-response: ${err.message}`);
      },
    });
    res.once('close', () => {
      done();
      series.inFlight.dec();
      const status = res.headersSent ? res.statusCode : 499;
      record(series, status, call.bytes + pageBytes, backend, upstreamError);
    });
    call.start(upstreams.pool(backend), req, upstreamRequestHeaders(req, fwd), hasBody(req));
  }

  function serveMetrics(req: http.IncomingMessage, res: http.ServerResponse): void {
    metrics.routedApps.labels().set(routes.apps().length);
    // Apps that went away since the last scrape read 0 (a sleeping app) until they route again.
    for (const app of metrics.webInstanceApps) if (routes.get(app).length === 0) metrics.webInstances.labels(app).set(0);
    for (const app of routes.apps()) {
      metrics.webInstances.labels(app).set(routes.get(app).length);
      metrics.webInstanceApps.add(app);
    }
    const body = metrics.registry.render();
    res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  const handleRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const host = hostOf(req);
    const label = labelUnder(host, deps.settings.domain);
    if (label !== undefined) {
      const hostHandler = deps.hostHandlers?.[label];
      if (hostHandler) return hostHandler(req, res);
      return proxyToApp(req, res, label, host);
    }
    const custom = deps.domains?.appFor(host);
    if (custom !== undefined) return proxyToApp(req, res, custom, host);
    // The host's own names (localhost, an IP address, the bare domain).
    const path = (req.url ?? '/').split('?')[0];
    const readOnly = req.method === 'GET' || req.method === 'HEAD';
    if (path === '/healthz' && readOnly) return void healthz(deps, req, res);
    if (path === '/metrics' && readOnly) return serveMetrics(req, res);
    sendPage(req, res, noAppPage(host));
  };
  const server = http.createServer(handleRequest);

  const handleUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    // A reset from the client must not become an unhandled 'error'.
    socket.on('error', () => socket.destroy());
    const host = hostOf(req);
    const own = labelUnder(host, deps.settings.domain);
    const label = own ?? deps.domains?.appFor(host);
    const requestId = requestIdOf(req);
    if (label === undefined || (own !== undefined && deps.hostHandlers?.[own])) return sendPageOnSocket(req, socket, noAppPage(host, requestId));
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket' || req.method !== 'GET') {
      return sendPageOnSocket(req, socket, { status: 400, code: 'SHIPOFF_BAD_UPGRADE', title: 'Only WebSocket upgrades are proxied', hint: 'Send the request without an Upgrade header.' });
    }
    const backend = routes.pick(label);
    if (!backend) {
      void whyNoBackend(label, host, requestId).then(({ page }) => sendPageOnSocket(req, socket, page));
      return;
    }
    const started = performance.now();
    const time = new Date().toISOString();
    const series = metrics.app(label);
    const done = routes.begin(backend);
    series.inFlight.inc();
    const state = { status: 0 };
    let upstreamError: UpstreamErrorKind | undefined;
    wsState.set(req, state);
    socket.once('close', () => {
      done();
      series.inFlight.dec();
      const status = state.status || 499;
      const durationMs = performance.now() - started;
      series.observe(status, durationMs / 1000);
      report({ time, app: label, method: req.method ?? '', path: req.url ?? '', status, bytes: 0, durationMs, backend: keyOf(backend), requestId, ...(upstreamError ? { upstreamError } : {}) });
    });
    req.headers = headersObject(upstreamRequestHeaders(req, forwardedOf(req, requestId), true));
    wsProxy.ws(req, socket, head, { target: { host: backend.host, port: backend.port } }, (err) => {
      const kind = (err as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? 'timeout' : (err as NodeJS.ErrnoException).code === 'ECONNREFUSED' ? 'refused' : 'reset';
      upstreamError = kind;
      series.upstreamError(kind);
      log(` !     websocket to ${label} (${keyOf(backend)}): ${err.message}`);
      const sock = socket as Socket;
      if (state.status === 0 && sock.bytesWritten === 0) {
        const page = upstreamPage(label, kind, requestId);
        state.status = page.status;
        sendPageOnSocket(req, socket, page);
      } else socket.destroy();
    });
  };
  server.on('upgrade', handleUpgrade);

  // HTTPS: the same handlers; the certificate is chosen by SNI from the custom
  // domains. No certificate for the name (or no SNI): the handshake fails.
  const lookup = deps.domains;
  const httpsServer =
    lookup && deps.httpsPort !== undefined
      ? https.createServer({
          SNICallback: (servername, cb) => {
            const context = lookup.secureContextFor(servername);
            if (context) cb(null, context);
            else cb(new Error(`no certificate for ${servername.slice(0, 253)}`), undefined);
          },
        }, handleRequest)
      : undefined;
  httpsServer?.on('upgrade', handleUpgrade);
  // A failed handshake concerns that client only.
  httpsServer?.on('tlsClientError', (_err, socket) => socket.destroy());

  for (const s of httpsServer ? [server, httpsServer] : [server]) {
    s.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    // A malformed request must never take the router down.
    s.on('clientError', (_err: Error, socket: Duplex) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  return {
    server,
    routes,
    metrics,
    listen(host = '0.0.0.0') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(deps.settings.httpPort, host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    httpsServer,
    listenHttps(host = '0.0.0.0') {
      const s = httpsServer;
      if (!s) return Promise.reject(new Error('this router has no HTTPS listener (createRouter without domains and httpsPort)'));
      return new Promise((resolve, reject) => {
        s.once('error', reject);
        s.listen(deps.httpsPort, host, () => {
          s.off('error', reject);
          resolve(s.address() as AddressInfo);
        });
      });
    },
    close(graceMs = 10_000) {
      const finish = async (): Promise<void> => {
        unsubscribe();
        wsProxy.close();
        await upstreams.destroyAll();
      };
      const stopped = (s: http.Server): Promise<void> =>
        new Promise((resolve) => {
          if (!s.listening) return resolve();
          s.close(() => resolve());
          s.closeIdleConnections();
          const timer = setTimeout(() => {
            for (const socket of sockets) socket.destroy();
          }, graceMs);
          timer.unref();
        });
      return Promise.all([stopped(server), ...(httpsServer ? [stopped(httpsServer)] : [])]).then(finish);
    },
  };
}
