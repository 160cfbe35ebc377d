// A host runs roles (router, git daemon, SSH admin, deployer) over one store.
// `shipoff up` runs them all in one process; `shipoff router` runs one.
import { ShipoffError, type Settings, type Store } from '../core/index.js';
import { createRouter } from '../router/index.js';

export interface Endpoint {
  label: string;
  value: string;
}

export interface Role {
  name: string;
  /** Starts serving; returns what to show the user. */
  start(): Promise<Endpoint[]>;
  /** Stops accepting, finishes or cancels work in flight. */
  stop(): Promise<void>;
}

export interface RoleDeps {
  settings: Settings;
  store: Store;
  log: (line: string) => void;
}

function routerRole({ settings, store, log }: RoleDeps): Role {
  const router = createRouter({ store, settings, log });
  return {
    name: 'router',
    async start() {
      try {
        const address = await router.listen();
        const port = address.port;
        return [
          { label: 'Apps', value: `http://APP.${settings.domain}:${port}/` },
          { label: 'Health', value: `http://localhost:${port}/healthz` },
        ];
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          throw new ShipoffError('SHIPOFF_PORT_IN_USE', { port: String(settings.httpPort), variable: 'SHIPOFF_HTTP_PORT' }, { cause: err });
        }
        throw err;
      }
    },
    stop: () => router.close(),
  };
}

/** Every role there is, in start order. Later issues add gitd, admin-ssh and the deployer here. */
export const ROLE_FACTORIES: Readonly<Record<string, (deps: RoleDeps) => Role>> = {
  router: routerRole,
};
