// Users, their SSH keys and their API tokens.
import crypto from 'node:crypto';
import { ShipoffError } from '../errors.js';
import type { SshKey, User } from '../model.js';
import { assertUserName } from '../names.js';
import { parsePublicKey } from '../ssh-keys.js';
import { type Db, pgErrorOf, UNIQUE_VIOLATION } from './db.js';

interface UserRow {
  id: number;
  name: string;
  is_admin: boolean;
  created_at: Date;
}

const toUser = (r: UserRow): User => ({ id: r.id, name: r.name, isAdmin: r.is_admin, createdAt: r.created_at });

interface KeyRow {
  id: number;
  user_id: number;
  user_name: string;
  key_type: string;
  public_key: string;
  comment: string;
  fingerprint: string;
  created_at: Date;
}

const toKey = (r: KeyRow): SshKey => ({
  id: r.id,
  userId: r.user_id,
  userName: r.user_name,
  keyType: r.key_type,
  publicKey: r.public_key,
  comment: r.comment,
  fingerprint: r.fingerprint,
  createdAt: r.created_at,
});

const KEY_COLUMNS = 'k.id, k.user_id, u.name AS user_name, k.key_type, k.public_key, k.comment, k.fingerprint, k.created_at';

const TOKEN_PREFIX = 'shipoff_';

function hashToken(token: string): Buffer {
  return crypto.createHash('sha256').update(token, 'utf8').digest();
}

export class UsersRepo {
  constructor(private readonly db: Db) {}

  async findByName(name: string): Promise<User | undefined> {
    const r = await this.db.query<UserRow>('SELECT * FROM users WHERE name = $1', [name]);
    return r.rows[0] && toUser(r.rows[0]);
  }

  async getByName(name: string): Promise<User> {
    const user = await this.findByName(name);
    if (!user) throw new ShipoffError('SHIPOFF_USER_NOT_FOUND', { user: name });
    return user;
  }

  async list(): Promise<User[]> {
    const r = await this.db.query<UserRow>('SELECT * FROM users ORDER BY name');
    return r.rows.map(toUser);
  }

  /** Creates the user if missing. The very first user becomes a host administrator. */
  async ensure(name: string, options: { isAdmin?: boolean } = {}): Promise<{ user: User; created: boolean }> {
    assertUserName(name);
    return this.db.tx(async (tx) => {
      // Serialise "first user" decisions between concurrent callers.
      await tx.query("SELECT pg_advisory_xact_lock(hashtext('shipoff:users'))");
      const existing = await tx.query<UserRow>('SELECT * FROM users WHERE name = $1', [name]);
      if (existing.rows[0]) {
        if (options.isAdmin && !existing.rows[0].is_admin) {
          const up = await tx.query<UserRow>('UPDATE users SET is_admin = true WHERE id = $1 RETURNING *', [existing.rows[0].id]);
          return { user: toUser(up.rows[0]!), created: false };
        }
        return { user: toUser(existing.rows[0]), created: false };
      }
      const count = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
      const isAdmin = options.isAdmin === true || count.rows[0]!.n === 0;
      const r = await tx.query<UserRow>('INSERT INTO users (name, is_admin) VALUES ($1, $2) RETURNING *', [name, isAdmin]);
      return { user: toUser(r.rows[0]!), created: true };
    });
  }

  async remove(name: string): Promise<void> {
    const r = await this.db.query('DELETE FROM users WHERE name = $1', [name]);
    if (r.rowCount === 0) throw new ShipoffError('SHIPOFF_USER_NOT_FOUND', { user: name });
  }

  /** Adds a public key for a user, creating the user when needed. */
  async addKey(userName: string, publicKeyText: string, options: { isAdmin?: boolean } = {}): Promise<{ user: User; key: SshKey; userCreated: boolean }> {
    const parsed = parsePublicKey(publicKeyText);
    assertUserName(userName);
    return this.db.tx(async (tx) => {
      const owner = await tx.query<{ name: string }>(
        'SELECT u.name FROM ssh_keys k JOIN users u ON u.id = k.user_id WHERE k.fingerprint = $1',
        [parsed.fingerprint],
      );
      if (owner.rows[0]) throw new ShipoffError('SHIPOFF_KEY_EXISTS', { fingerprint: parsed.fingerprint, user: owner.rows[0].name });
      const { user, created } = await new UsersRepo(tx).ensure(userName, options);
      try {
        const r = await tx.query<{ id: number }>(
          'INSERT INTO ssh_keys (user_id, key_type, public_key, comment, fingerprint) VALUES ($1, $2, $3, $4, $5) RETURNING id',
          [user.id, parsed.type, parsed.line, parsed.comment, parsed.fingerprint],
        );
        const key = await new UsersRepo(tx).keyById(r.rows[0]!.id);
        return { user, key, userCreated: created };
      } catch (err) {
        // Two concurrent adds of one key: the database decides.
        if (pgErrorOf(err)?.code === UNIQUE_VIOLATION) {
          throw new ShipoffError('SHIPOFF_KEY_EXISTS', { fingerprint: parsed.fingerprint, user: '(another user)' }, { cause: err });
        }
        throw err;
      }
    });
  }

  private async keyById(id: number): Promise<SshKey> {
    const r = await this.db.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM ssh_keys k JOIN users u ON u.id = k.user_id WHERE k.id = $1`, [id]);
    return toKey(r.rows[0]!);
  }

  async findKeyByFingerprint(fingerprint: string): Promise<{ key: SshKey; user: User } | undefined> {
    const r = await this.db.query<KeyRow & { is_admin: boolean; user_created_at: Date }>(
      `SELECT ${KEY_COLUMNS}, u.is_admin, u.created_at AS user_created_at FROM ssh_keys k JOIN users u ON u.id = k.user_id WHERE k.fingerprint = $1`,
      [fingerprint],
    );
    const row = r.rows[0];
    if (!row) return undefined;
    return { key: toKey(row), user: { id: row.user_id, name: row.user_name, isAdmin: row.is_admin, createdAt: row.user_created_at } };
  }

  async listKeys(userName?: string): Promise<SshKey[]> {
    const r = userName
      ? await this.db.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM ssh_keys k JOIN users u ON u.id = k.user_id WHERE u.name = $1 ORDER BY k.id`, [userName])
      : await this.db.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM ssh_keys k JOIN users u ON u.id = k.user_id ORDER BY u.name, k.id`);
    return r.rows.map(toKey);
  }

  /** Removes one key by fingerprint, or every key of the user when none is given. */
  async removeKeys(userName: string, fingerprint?: string): Promise<number> {
    const r = fingerprint
      ? await this.db.query('DELETE FROM ssh_keys k USING users u WHERE u.id = k.user_id AND u.name = $1 AND k.fingerprint = $2', [userName, fingerprint])
      : await this.db.query('DELETE FROM ssh_keys k USING users u WHERE u.id = k.user_id AND u.name = $1', [userName]);
    if (r.rowCount === 0) throw new ShipoffError('SHIPOFF_KEY_NOT_FOUND', { user: userName, name: fingerprint ?? '(any)' });
    return r.rowCount ?? 0;
  }

  /** Makes a new API token. The plaintext is returned once and never stored. */
  async createToken(userId: number, description = ''): Promise<string> {
    const token = TOKEN_PREFIX + crypto.randomBytes(32).toString('base64url');
    await this.db.query('INSERT INTO api_tokens (user_id, token_sha256, description) VALUES ($1, $2, $3)', [userId, hashToken(token), description]);
    return token;
  }

  async userForToken(token: string): Promise<User | undefined> {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return undefined;
    const r = await this.db.query<UserRow>(
      `UPDATE api_tokens t SET last_used_at = now() FROM users u
       WHERE t.token_sha256 = $1 AND u.id = t.user_id RETURNING u.*`,
      [hashToken(token)],
    );
    return r.rows[0] && toUser(r.rows[0]);
  }
}
