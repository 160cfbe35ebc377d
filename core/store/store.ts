// The Store: every repository over one PostgreSQL database, which is either
// the embedded server (default) or an external one (DATABASE_URL).
import fs from 'node:fs';
import pg from 'pg';
import { ShipoffError } from '../errors.js';
import { loadOrCreateMasterKey } from '../secrets.js';
import type { Settings } from '../settings.js';
import { AppsRepo } from './apps-repo.js';
import { AuditRepo } from './audit-repo.js';
import { ConfigRepo } from './config-repo.js';
import { Db } from './db.js';
import { DeploysRepo } from './deploys-repo.js';
import { DomainsRepo } from './domains-repo.js';
import { acquireEmbeddedPostgres, type EmbeddedLease } from './embedded-postgres.js';
import { migrate } from './migrations.js';
import { type Connect, RoutesRepo } from './routes-repo.js';
import { UsersRepo } from './users-repo.js';

/** The repositories, bound to the pool or to one transaction. */
export class Repos {
  readonly users: UsersRepo;
  readonly apps: AppsRepo;
  readonly config: ConfigRepo;
  readonly deploys: DeploysRepo;
  readonly audit: AuditRepo;
  /** Custom domains and their certificates. */
  readonly domains: DomainsRepo;
  /** Routes shared by every router on this store (LISTEN/NOTIFY). */
  readonly routes: RoutesRepo;

  constructor(
    readonly db: Db,
    protected readonly masterKey: Buffer,
    /** A dedicated connection, for listening; absent inside a transaction. */
    connect?: Connect,
  ) {
    this.users = new UsersRepo(db);
    this.apps = new AppsRepo(db);
    this.config = new ConfigRepo(db, masterKey);
    this.deploys = new DeploysRepo(db, masterKey);
    this.audit = new AuditRepo(db);
    this.domains = new DomainsRepo(db, masterKey);
    this.routes = new RoutesRepo(db, connect);
  }
}

export type StoreBackend = 'embedded' | 'external';

export class Store extends Repos {
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    masterKey: Buffer,
    readonly backend: StoreBackend,
    private readonly lease: EmbeddedLease | undefined,
  ) {
    super(new Db(pool), masterKey, () => pool.connect());
  }

  /** Runs fn in one transaction: all of its writes happen, or none. */
  transaction<T>(fn: (tx: Repos) => Promise<T>): Promise<T> {
    return this.db.tx((db) => fn(new Repos(db, this.masterKey)));
  }

  /** Cheap liveness check for /healthz. */
  async ping(): Promise<void> {
    await this.db.query('SELECT 1');
  }

  /** A dedicated connection, for LISTEN/NOTIFY. The caller ends it. */
  async connectListener(): Promise<pg.PoolClient> {
    return this.pool.connect();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.routes.stopListening().catch(() => {});
    await this.pool.end();
    await this.lease?.release();
  }
}

export interface OpenStoreOptions {
  /** Connections in the pool (default 10). */
  poolSize?: number;
}

export function ensureDataDir(dataDir: string): void {
  try {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    fs.accessSync(dataDir, fs.constants.W_OK | fs.constants.X_OK);
  } catch (err) {
    throw new ShipoffError('SHIPOFF_DATA_DIR', { path: dataDir, reason: (err as Error).message }, { cause: err });
  }
}

/** Opens the store: starts or joins the embedded server when no DATABASE_URL is set, then migrates. */
export async function openStore(settings: Pick<Settings, 'dataDir' | 'databaseUrl'>, options: OpenStoreOptions = {}): Promise<Store> {
  ensureDataDir(settings.dataDir);
  const masterKey = loadOrCreateMasterKey(settings.dataDir);
  let lease: EmbeddedLease | undefined;
  let config: pg.PoolConfig;
  if (settings.databaseUrl) {
    config = { connectionString: settings.databaseUrl, connectionTimeoutMillis: 5_000 };
  } else {
    lease = await acquireEmbeddedPostgres(settings.dataDir);
    config = { ...lease.connection };
  }
  const pool = new pg.Pool({ ...config, max: options.poolSize ?? 10, application_name: `shipoff:${process.pid}` });
  // An idle client losing its server must not crash the process; the next query reports it.
  pool.on('error', () => {});
  const store = new Store(pool, masterKey, lease ? 'embedded' : 'external', lease);
  try {
    await store.ping();
  } catch (err) {
    await store.close().catch(() => {});
    throw new ShipoffError('SHIPOFF_DB_UNAVAILABLE', { reason: (err as Error).message }, { cause: err });
  }
  try {
    await migrate(store.db);
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
  return store;
}
