// The front door on SHIPOFF_HTTP_PORT. For now it answers the host's own
// endpoints; routing to apps by host name joins it with the push pipeline.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Settings, Store } from '../core/index.js';
import { sendPage } from './pages.js';

export interface RouterDeps {
  store: Store;
  settings: Pick<Settings, 'httpPort' | 'domain'>;
  log?: (line: string) => void;
}

export interface RouterServer {
  readonly server: http.Server;
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

export function createRouter(deps: RouterDeps): RouterServer {
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      void healthz(deps, req, res);
      return;
    }
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    sendPage(req, res, {
      status: 404,
      code: 'SHIPOFF_NO_SUCH_APP',
      title: `No app answers at ${host || 'this address'}`,
      hint: `Apps answer at http://APP.${deps.settings.domain}:${deps.settings.httpPort}/ once they are deployed with git push.`,
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
        server.close(() => resolve());
        server.closeIdleConnections();
        const timer = setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, graceMs);
        timer.unref();
      });
    },
  };
}
