// Config vars, sealed one value at a time under the master key.
import { ShipoffError } from '../errors.js';
import { assertConfigKey } from '../names.js';
import { open, seal } from '../secrets.js';
import type { Db } from './db.js';

/** Binds a sealed value to its row, so it cannot be moved to another app or key. */
const contextOf = (appId: number, key: string): string => `config:${appId}:${key}`;

export const MAX_CONFIG_VALUE_BYTES = 64 * 1024;

export class ConfigRepo {
  constructor(
    private readonly db: Db,
    private readonly masterKey: Buffer,
  ) {}

  /** Decrypted config of an app, keys sorted. */
  async all(appId: number): Promise<Record<string, string>> {
    const r = await this.db.query<{ key: string; value: Buffer }>('SELECT key, value FROM config_vars WHERE app_id = $1 ORDER BY key', [appId]);
    return Object.fromEntries(r.rows.map((row) => [row.key, this.decrypt(appId, row.key, row.value)]));
  }

  async get(appId: number, key: string): Promise<string | undefined> {
    const r = await this.db.query<{ value: Buffer }>('SELECT value FROM config_vars WHERE app_id = $1 AND key = $2', [appId, key]);
    return r.rows[0] && this.decrypt(appId, key, r.rows[0].value);
  }

  /** Sets several vars at once: all are checked first, then written in one transaction. */
  async set(appId: number, vars: Record<string, string>): Promise<void> {
    for (const [key, value] of Object.entries(vars)) {
      assertConfigKey(key);
      if (Buffer.byteLength(value, 'utf8') > MAX_CONFIG_VALUE_BYTES) {
        throw new ShipoffError('SHIPOFF_INVALID_CONFIG_KEY', { key, rule: `a value may hold at most ${MAX_CONFIG_VALUE_BYTES} bytes` });
      }
    }
    await this.db.tx(async (tx) => {
      for (const [key, value] of Object.entries(vars)) {
        await tx.query(
          `INSERT INTO config_vars (app_id, key, value) VALUES ($1, $2, $3)
           ON CONFLICT (app_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
          [appId, key, seal(this.masterKey, value, contextOf(appId, key))],
        );
      }
    });
  }

  /** Removes vars; returns the keys that were there. */
  async unset(appId: number, keys: string[]): Promise<string[]> {
    keys.forEach(assertConfigKey);
    const r = await this.db.query<{ key: string }>('DELETE FROM config_vars WHERE app_id = $1 AND key = ANY($2::text[]) RETURNING key', [appId, keys]);
    return r.rows.map((row) => row.key).sort();
  }

  private decrypt(appId: number, key: string, sealed: Buffer): string {
    try {
      return open(this.masterKey, sealed, contextOf(appId, key));
    } catch (err) {
      throw new ShipoffError('SHIPOFF_SECRET_UNREADABLE', { what: `config var ${key}` }, { cause: err });
    }
  }
}
