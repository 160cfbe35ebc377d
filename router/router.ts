// The front door on SHIPOFF_HTTP_PORT: the host's own endpoints (/healthz),
// handlers for the host's own names (git.<domain>), and every other
// APP.<domain> proxied to the app's live instances from the route table.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import httpProxy from 'http-proxy';
import type { Settings, Store } from '../core/index.js';
import { sendPage } from './pages.js';
import { RouteTable } from './route-table.js';

export type HostHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface RouterDeps {
  store: Store;
  settings: Pick<Settings, 'httpPort' | 'domain'>;
  log?: (line: string) => void;
  /** Where the apps run; the deployer keeps it current. */
  routes?: RouteTable;
  /** Handlers for names the host keeps for itself, by the first label: { git: … } answers git.<domain>. */
  hostHandlers?: Record<string, HostHandler>;
}

export interface RouterServer {
  readonly server: http.Server;
  readonly routes: RouteTable;
  listen(host?: string): Promise<AddressInfo>;
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

export function createRouter(deps: RouterDeps): RouterServer {
  const sockets = new Set<Socket>();
  const routes = deps.routes ?? new RouteTable();
  // One keep-alive agent: reusing upstream connections doubles throughput.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const proxy = httpProxy.createProxyServer({ agent, xfwd: true });
  const noApp = (req: http.IncomingMessage, res: http.ServerResponse, host: string): void =>
    sendPage(req, res, {
      status: 404,
      code: 'SHIPOFF_NO_SUCH_APP',
      title: `No app answers at ${host || 'this address'}`,
      hint: `Apps answer at http://APP.${deps.settings.domain}:${deps.settings.httpPort}/ once they are deployed with git push.`,
    });

  async function notRunning(req: http.IncomingMessage, res: http.ServerResponse, app: string, host: string): Promise<void> {
    const exists = await deps.store.apps.find(app).catch(() => undefined);
    if (!exists) return noApp(req, res, host);
    sendPage(req, res, {
      status: 503,
      code: 'SHIPOFF_APP_NOT_RUNNING',
      title: `App ${app} is not running`,
      hint: `It has no live release yet: deploy it with git push, or see its last deploy's output.`,
      headers: { 'retry-after': '5' },
    });
  }

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    const label = labelUnder(host, deps.settings.domain);
    const hostHandler = label !== undefined ? deps.hostHandlers?.[label] : undefined;
    if (hostHandler) return hostHandler(req, res);
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD') && label === undefined) {
      void healthz(deps, req, res);
      return;
    }
    if (label === undefined) return noApp(req, res, host);
    const backend = routes.pick(label);
    if (!backend) {
      void notRunning(req, res, label, host);
      return;
    }
    const done = routes.begin(backend);
    res.once('close', done);
    proxy.web(req, res, { target: { host: backend.host, port: backend.port } }, (err) => {
      done();
      deps.log?.(` !     proxy to ${label} (${backend.host}:${backend.port}): ${err.message}`);
      if (res.headersSent) return void res.destroy();
      sendPage(req, res, {
        status: 502,
        code: 'SHIPOFF_BAD_GATEWAY',
        title: `App ${label} did not answer`,
        hint: 'The app is running but refused or dropped the connection; see its logs.',
      });
    });
  });
  server.on('upgrade', (req, socket, head) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    const label = labelUnder(host, deps.settings.domain);
    const backend = label !== undefined ? routes.pick(label) : undefined;
    if (!backend) return void socket.destroy();
    const done = routes.begin(backend);
    socket.once('close', done);
    proxy.ws(req, socket, head, { target: { host: backend.host, port: backend.port } }, () => {
      done();
      socket.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // A malformed request must never take the router down.
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  return {
    server,
    routes,
    listen(host = '0.0.0.0') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(deps.settings.httpPort, host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    close(graceMs = 10_000) {
      return new Promise((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => {
          agent.destroy();
          proxy.close();
          resolve();
        });
        server.closeIdleConnections();
        const timer = setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, graceMs);
        timer.unref();
      });
    },
  };
}
