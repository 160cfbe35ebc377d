// A thin handle over a pg pool, or over one client inside a transaction, so
// repositories run the same code either way.
import pg from 'pg';

// bigint ids come back as strings by default; ours fit in a JS number.
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));

export class Db {
  constructor(
    private readonly pool: pg.Pool,
    private readonly client?: pg.PoolClient,
  ) {}

  get inTransaction(): boolean {
    return this.client !== undefined;
  }

  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    return (this.client ?? this.pool).query<R>(text, values);
  }

  /** Runs fn in a transaction; inside one already, fn joins it. */
  async tx<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    if (this.client) return fn(this);
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(new Db(this.pool, client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }
}

export interface PgError extends Error {
  code?: string;
  constraint?: string;
}

export function pgErrorOf(err: unknown): PgError | undefined {
  return err instanceof Error && typeof (err as PgError).code === 'string' ? (err as PgError) : undefined;
}

export const UNIQUE_VIOLATION = '23505';
export const ILLEGAL_TRANSITION = 'SH001';
export const IMMUTABLE_RELEASE = 'SH002';
