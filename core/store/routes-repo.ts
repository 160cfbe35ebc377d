// Where each app's web instances answer, shared through the store so that
// every router process on one database serves the same routes. The process
// that runs the deployer writes them (set); routers without a deployer load
// them all at start and follow changes with LISTEN/NOTIFY (listen).
//
// Besides the routes, two more channels carry requests the other way, from a
// router without a deployer to the process that has one: "wake this sleeping
// app" and "these apps had requests here" (so that the idle clock of scale to
// zero counts them).
import type pg from 'pg';
import type { Db } from './db.js';

export interface RouteBackend {
  host: string;
  port: number;
}

/** A change of routes, as a listener sees it. */
export type RoutesUpdate =
  /** One app's routes now (an empty list: the app has none, sleeping or gone). */
  | { kind: 'app'; app: string; backends: RouteBackend[] }
  /** Every app's routes: after (re)connecting, when notifications may have been missed. */
  | { kind: 'all'; routes: Map<string, RouteBackend[]> };

export const ROUTES_CHANNEL = 'shipoff_routes';
export const WAKE_CHANNEL = 'shipoff_wake';
export const ACTIVITY_CHANNEL = 'shipoff_activity';
/** application_name of the connection that listens for wake requests: a router asks only when one is there. */
export const WAKE_LISTENER_NAME = 'shipoff-wake-listener';

/** NOTIFY payloads are limited to 8000 bytes; activity reports are split below that. */
const MAX_PAYLOAD = 7_000;

export type Connect = () => Promise<pg.PoolClient>;

export interface ListenOptions {
  log?: (line: string) => void;
  /** Delay before the first reconnect; doubles up to maxReconnectMs. */
  reconnectMs?: number;
  maxReconnectMs?: number;
  /** How often the idle listening connection is checked (a dropped network is silent otherwise). */
  pingMs?: number;
}

export interface Listening {
  /** The server process of the listening connection (undefined while reconnecting). */
  readonly pid: number | undefined;
  /** Times the connection was made again after a loss. */
  readonly reconnects: number;
  close(): Promise<void>;
}

const normalize = (value: unknown): RouteBackend[] =>
  Array.isArray(value)
    ? value
        .filter((b): b is RouteBackend => typeof b === 'object' && b !== null && typeof (b as RouteBackend).host === 'string' && Number.isInteger((b as RouteBackend).port))
        .map((b) => ({ host: b.host, port: b.port }))
    : [];

export class RoutesRepo {
  private readonly listeners = new Set<PgListener>();

  constructor(
    private readonly db: Db,
    private readonly connect?: Connect,
  ) {}

  /** Replaces the app's routes (none: the row goes) and tells every listener, in one transaction. */
  async set(app: string, backends: RouteBackend[]): Promise<void> {
    const list = backends.map((b) => ({ host: b.host, port: b.port }));
    await this.db.tx(async (tx) => {
      if (list.length === 0) {
        await tx.query('DELETE FROM routes WHERE app_id = (SELECT id FROM apps WHERE name = $1)', [app]);
      } else {
        await tx.query(
          `INSERT INTO routes (app_id, backends) SELECT id, $2::jsonb FROM apps WHERE name = $1
           ON CONFLICT (app_id) DO UPDATE SET backends = EXCLUDED.backends, updated_at = now()`,
          [app, JSON.stringify(list)],
        );
      }
      // Delivered at commit, to every session listening (this one included).
      await tx.query('SELECT pg_notify($1, $2)', [ROUTES_CHANNEL, app]);
    });
  }

  async get(app: string): Promise<RouteBackend[]> {
    const r = await this.db.query<{ backends: unknown }>('SELECT r.backends FROM routes r JOIN apps a ON a.id = r.app_id WHERE a.name = $1', [app]);
    return normalize(r.rows[0]?.backends);
  }

  /** Every app that has routes. */
  async all(): Promise<Map<string, RouteBackend[]>> {
    const r = await this.db.query<{ name: string; backends: unknown }>('SELECT a.name, r.backends FROM routes r JOIN apps a ON a.id = r.app_id ORDER BY a.name');
    return new Map(r.rows.map((row) => [row.name, normalize(row.backends)]));
  }

  /**
   * Follows the routes: delivers them all once listening, then every change
   * (within milliseconds of its commit). After a lost connection it connects
   * again and delivers them all again. Updates are delivered one at a time, in order.
   */
  async listen(onChange: (update: RoutesUpdate) => void, options: ListenOptions = {}): Promise<Listening> {
    const pending = new Set<string>();
    let queue: Promise<void> = Promise.resolve();
    const log = options.log ?? (() => {});
    let retry: NodeJS.Timeout | undefined;
    const enqueue = (job: () => Promise<void>): void => {
      queue = queue.then(job).catch((err: Error) => {
        if (listener.closed) return;
        // A failed read may have lost a change: read everything again, soon.
        log(` !     shared routes: ${err.message}; loading them all again in a second`);
        clearTimeout(retry);
        retry = setTimeout(() => !listener.closed && enqueue(loadAll), 1_000);
        retry.unref();
      });
    };
    const loadAll = async (): Promise<void> => {
      pending.clear();
      onChange({ kind: 'all', routes: await this.all() });
    };
    const listener = new PgListener(this.connectOrThrow(), [ROUTES_CHANNEL], {
      ...options,
      onNotify: (_channel, app) => {
        // A change for an app whose read has not started yet is covered by that read.
        if (pending.has(app)) return;
        pending.add(app);
        enqueue(async () => {
          pending.delete(app);
          onChange({ kind: 'app', app, backends: await this.get(app) });
        });
      },
      onConnected: () => {
        enqueue(loadAll);
        return queue;
      },
    });
    return this.track(listener);
  }

  /** Asks the process that runs the deployer to wake a sleeping app. */
  async requestWake(app: string): Promise<void> {
    await this.db.query('SELECT pg_notify($1, $2)', [WAKE_CHANNEL, app]);
  }

  /** Is a process listening for wake requests (a host with the deployer role)? */
  async wakeListenerPresent(): Promise<boolean> {
    const r = await this.db.query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database() LIMIT 1', [WAKE_LISTENER_NAME]);
    return (r.rowCount ?? 0) > 0;
  }

  /** Tells the deployer's process that these apps had requests (they are not idle). */
  async reportActivity(apps: string[]): Promise<void> {
    let batch: string[] = [];
    const send = async (): Promise<void> => {
      if (batch.length > 0) await this.db.query('SELECT pg_notify($1, $2)', [ACTIVITY_CHANNEL, JSON.stringify(batch)]);
      batch = [];
    };
    for (const app of apps) {
      if (JSON.stringify([...batch, app]).length > MAX_PAYLOAD) await send();
      batch.push(app);
    }
    await send();
  }

  /** The deployer's side: wake requests and activity reports from routers elsewhere. */
  async listenRequests(handlers: { wake(app: string): void; active(apps: string[]): void }, options: ListenOptions = {}): Promise<Listening> {
    const listener = new PgListener(this.connectOrThrow(), [WAKE_CHANNEL, ACTIVITY_CHANNEL], {
      ...options,
      applicationName: WAKE_LISTENER_NAME,
      onNotify: (channel, payload) => {
        if (channel === WAKE_CHANNEL) return handlers.wake(payload);
        try {
          const apps: unknown = JSON.parse(payload);
          if (Array.isArray(apps)) handlers.active(apps.filter((a): a is string => typeof a === 'string'));
        } catch {
          // not ours
        }
      },
    });
    return this.track(listener);
  }

  /** Ends every listening connection (the Store does this before it closes). */
  async stopListening(): Promise<void> {
    await Promise.all([...this.listeners].map((l) => l.close()));
  }

  private connectOrThrow(): Connect {
    if (!this.connect) throw new Error('listening needs the store itself, not a transaction');
    return this.connect;
  }

  private async track(listener: PgListener): Promise<Listening> {
    this.listeners.add(listener);
    listener.onClosed = () => this.listeners.delete(listener);
    try {
      await listener.start();
    } catch (err) {
      await listener.close();
      throw err;
    }
    return listener;
  }
}

interface PgListenerOptions extends ListenOptions {
  applicationName?: string;
  onNotify(channel: string, payload: string): void;
  /** After each (re)connect, once LISTEN is in place; start() waits for the first. */
  onConnected?(): Promise<void> | void;
}

/** One dedicated connection that LISTENs, and comes back after it is lost. */
class PgListener implements Listening {
  closed = false;
  pid: number | undefined;
  reconnects = 0;
  onClosed: (() => void) | undefined;
  /** Ends the current connection (once), whoever notices first. */
  private dispose: ((err?: Error) => void) | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private connecting: Promise<void> | undefined;
  private delay: number;

  constructor(
    private readonly connect: Connect,
    private readonly channels: string[],
    private readonly options: PgListenerOptions,
  ) {
    this.delay = options.reconnectMs ?? 100;
  }

  /** The first connection: its failure is the caller's. */
  start(): Promise<void> {
    return this.open();
  }

  private open(): Promise<void> {
    return (this.connecting ??= this.openOnce().finally(() => (this.connecting = undefined)));
  }

  private async openOnce(): Promise<void> {
    const client = await this.connect();
    let ended = false;
    let pingTimer: NodeJS.Timeout | undefined;
    const onNotification = (msg: pg.Notification): void => {
      if (!this.closed && this.channels.includes(msg.channel)) this.options.onNotify(msg.channel, msg.payload ?? '');
    };
    const end = (err?: Error): boolean => {
      if (ended) return false;
      ended = true;
      clearInterval(pingTimer);
      client.removeListener('notification', onNotification);
      client.release(err ?? true); // destroyed, never back into the pool
      if (this.dispose === end) {
        this.dispose = undefined;
        this.pid = undefined;
      }
      return true;
    };
    const onLost = (err?: Error): void => {
      if (!end(err) || this.closed) return;
      this.options.log?.(` !     shared routes: lost the database connection (${err?.message ?? 'closed'}); connecting again`);
      this.scheduleReconnect();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', onNotification);
    try {
      if (this.options.applicationName) await client.query(`SET application_name = '${this.options.applicationName.replace(/'/g, "''")}'`);
      for (const channel of this.channels) await client.query(`LISTEN ${channel}`);
      const r = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      if (this.closed) throw new Error('closed');
      this.dispose = end;
      this.pid = r.rows[0]?.pid;
    } catch (err) {
      end();
      throw err;
    }
    this.delay = this.options.reconnectMs ?? 100;
    pingTimer = setInterval(() => {
      client.query('SELECT 1').catch((err: Error) => onLost(err));
    }, this.options.pingMs ?? 15_000);
    pingTimer.unref();
    await this.options.onConnected?.();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer) return;
    const wait = this.delay;
    this.delay = Math.min(this.delay * 2, this.options.maxReconnectMs ?? 5_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.closed) return;
      this.open().then(
        () => {
          this.reconnects++;
          this.options.log?.(`-----> shared routes: connected again`);
        },
        (err: Error) => {
          if (this.closed) return;
          this.options.log?.(` !     shared routes: cannot connect (${err.message}); trying again in ${this.delay} ms`);
          this.scheduleReconnect();
        },
      );
    }, wait);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    await this.connecting?.catch(() => {});
    this.dispose?.();
    this.onClosed?.();
  }
}
