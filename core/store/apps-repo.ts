// Apps and what hangs off them directly: who may use them, their domains and
// their process formation.
import { ShipoffError } from '../errors.js';
import { type AccessGrant, type App, type Formation, type Role, ROLES } from '../model.js';
import { assertAppName } from '../names.js';
import { type Db, pgErrorOf, UNIQUE_VIOLATION } from './db.js';

interface AppRow {
  id: number;
  name: string;
  deploy_branch: string;
  sleep_after_seconds: number | null;
  settings: Record<string, unknown>;
  created_at: Date;
}

const toApp = (r: AppRow): App => ({
  id: r.id,
  name: r.name,
  deployBranch: r.deploy_branch,
  sleepAfterSeconds: r.sleep_after_seconds ?? undefined,
  settings: r.settings,
  createdAt: r.created_at,
});

const PROCESS_TYPE = /^[a-z][a-z0-9_-]{0,29}$/;
export const MAX_INSTANCES_PER_TYPE = 100;

export interface AppChanges {
  deployBranch?: string;
  /** null turns sleeping off */
  sleepAfterSeconds?: number | null;
  settings?: Record<string, unknown>;
}

export class AppsRepo {
  constructor(private readonly db: Db) {}

  async create(name: string, ownerId?: number): Promise<App> {
    assertAppName(name);
    return this.db.tx(async (tx) => {
      let row: AppRow;
      try {
        row = (await tx.query<AppRow>('INSERT INTO apps (name) VALUES ($1) RETURNING *', [name])).rows[0]!;
      } catch (err) {
        if (pgErrorOf(err)?.code === UNIQUE_VIOLATION) throw new ShipoffError('SHIPOFF_APP_EXISTS', { app: name }, { cause: err });
        throw err;
      }
      if (ownerId !== undefined) {
        await tx.query("INSERT INTO app_access (app_id, user_id, role) VALUES ($1, $2, 'owner')", [row.id, ownerId]);
      }
      await tx.query("INSERT INTO formations (app_id, process_type, quantity) VALUES ($1, 'web', 1)", [row.id]);
      return toApp(row);
    });
  }

  async find(name: string): Promise<App | undefined> {
    const r = await this.db.query<AppRow>('SELECT * FROM apps WHERE name = $1', [name]);
    return r.rows[0] && toApp(r.rows[0]);
  }

  async get(name: string): Promise<App> {
    const app = await this.find(name);
    if (!app) throw new ShipoffError('SHIPOFF_APP_NOT_FOUND', { app: name });
    return app;
  }

  async list(): Promise<App[]> {
    return (await this.db.query<AppRow>('SELECT * FROM apps ORDER BY name')).rows.map(toApp);
  }

  /** The apps a user holds any role on (host administrators see all). */
  async listVisibleTo(userId: number): Promise<App[]> {
    const r = await this.db.query<AppRow>(
      `SELECT a.* FROM apps a WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = $1 AND u.is_admin)
          OR EXISTS (SELECT 1 FROM app_access x WHERE x.app_id = a.id AND x.user_id = $1)
       ORDER BY a.name`,
      [userId],
    );
    return r.rows.map(toApp);
  }

  async update(name: string, changes: AppChanges): Promise<App> {
    const r = await this.db.query<AppRow>(
      `UPDATE apps SET
         deploy_branch = COALESCE($2, deploy_branch),
         sleep_after_seconds = CASE WHEN $3::boolean THEN $4::integer ELSE sleep_after_seconds END,
         settings = COALESCE($5::jsonb, settings)
       WHERE name = $1 RETURNING *`,
      [name, changes.deployBranch ?? null, changes.sleepAfterSeconds !== undefined, changes.sleepAfterSeconds ?? null, changes.settings ? JSON.stringify(changes.settings) : null],
    );
    if (!r.rows[0]) throw new ShipoffError('SHIPOFF_APP_NOT_FOUND', { app: name });
    return toApp(r.rows[0]);
  }

  async rename(from: string, to: string): Promise<App> {
    assertAppName(to);
    try {
      const r = await this.db.query<AppRow>('UPDATE apps SET name = $2 WHERE name = $1 RETURNING *', [from, to]);
      if (!r.rows[0]) throw new ShipoffError('SHIPOFF_APP_NOT_FOUND', { app: from });
      return toApp(r.rows[0]);
    } catch (err) {
      if (pgErrorOf(err)?.code === UNIQUE_VIOLATION) throw new ShipoffError('SHIPOFF_APP_EXISTS', { app: to }, { cause: err });
      throw err;
    }
  }

  /** Deletes the app's rows; its releases, deploys, config and domains go with it. */
  async destroy(name: string): Promise<void> {
    const r = await this.db.query('DELETE FROM apps WHERE name = $1', [name]);
    if (r.rowCount === 0) throw new ShipoffError('SHIPOFF_APP_NOT_FOUND', { app: name });
  }

  // --- access ---------------------------------------------------------------

  async grant(appId: number, userId: number, role: Role): Promise<void> {
    if (!ROLES.includes(role)) throw new ShipoffError('SHIPOFF_INVALID_ROLE', { role, roles: ROLES.join(', ') });
    await this.db.query(
      `INSERT INTO app_access (app_id, user_id, role) VALUES ($1, $2, $3)
       ON CONFLICT (app_id, user_id) DO UPDATE SET role = EXCLUDED.role, granted_at = now()`,
      [appId, userId, role],
    );
  }

  async revoke(appId: number, userId: number): Promise<boolean> {
    const r = await this.db.query('DELETE FROM app_access WHERE app_id = $1 AND user_id = $2', [appId, userId]);
    return (r.rowCount ?? 0) > 0;
  }

  async roleOf(appId: number, userId: number): Promise<Role | undefined> {
    const r = await this.db.query<{ role: Role }>('SELECT role FROM app_access WHERE app_id = $1 AND user_id = $2', [appId, userId]);
    return r.rows[0]?.role;
  }

  async accessList(appId: number): Promise<AccessGrant[]> {
    const r = await this.db.query<{ app_id: number; app_name: string; user_id: number; user_name: string; role: Role; granted_at: Date }>(
      `SELECT x.app_id, a.name AS app_name, x.user_id, u.name AS user_name, x.role, x.granted_at
       FROM app_access x JOIN apps a ON a.id = x.app_id JOIN users u ON u.id = x.user_id
       WHERE x.app_id = $1 ORDER BY u.name`,
      [appId],
    );
    return r.rows.map((x) => ({ appId: x.app_id, appName: x.app_name, userId: x.user_id, userName: x.user_name, role: x.role, grantedAt: x.granted_at }));
  }

  // --- formation ------------------------------------------------------------

  async formation(appId: number): Promise<Formation> {
    const r = await this.db.query<{ process_type: string; quantity: number }>(
      'SELECT process_type, quantity FROM formations WHERE app_id = $1 ORDER BY process_type',
      [appId],
    );
    return Object.fromEntries(r.rows.map((row) => [row.process_type, row.quantity]));
  }

  /** Sets desired counts for the given process types, all or nothing. */
  async scale(appId: number, changes: Formation): Promise<Formation> {
    for (const [type, quantity] of Object.entries(changes)) {
      if (!PROCESS_TYPE.test(type)) {
        throw new ShipoffError('SHIPOFF_INVALID_FORMATION', { reason: `"${type}" is not a process type name (lowercase letters, digits, - and _)` });
      }
      if (!Number.isInteger(quantity) || quantity < 0 || quantity > MAX_INSTANCES_PER_TYPE) {
        throw new ShipoffError('SHIPOFF_INVALID_FORMATION', { reason: `${type}=${quantity}: give a whole number from 0 to ${MAX_INSTANCES_PER_TYPE}` });
      }
    }
    return this.db.tx(async (tx) => {
      for (const [type, quantity] of Object.entries(changes)) {
        await tx.query(
          `INSERT INTO formations (app_id, process_type, quantity) VALUES ($1, $2, $3)
           ON CONFLICT (app_id, process_type) DO UPDATE SET quantity = EXCLUDED.quantity, updated_at = now()`,
          [appId, type, quantity],
        );
      }
      return new AppsRepo(tx).formation(appId);
    });
  }
}
