// Deploys (the attempt: state, log, who pushed what) and releases (the
// immutable result: image, process types, config snapshot).
import { assertTransition, type DeployState } from '../deploy-state.js';
import { ShipoffError } from '../errors.js';
import type { Builder, Deploy, ProcessTypes, Release } from '../model.js';
import { open, seal } from '../secrets.js';
import { type Db, ILLEGAL_TRANSITION, pgErrorOf, UNIQUE_VIOLATION } from './db.js';

interface DeployRow {
  id: number;
  app_id: number;
  state: DeployState;
  reason: string | null;
  commit_sha: string | null;
  branch: string | null;
  pushed_by: number | null;
  release_id: number | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
}

const DEPLOY_COLUMNS = 'id, app_id, state, reason, commit_sha, branch, pushed_by, release_id, created_at, started_at, finished_at, updated_at';

const toDeploy = (r: DeployRow): Deploy => ({
  id: r.id,
  appId: r.app_id,
  state: r.state,
  reason: r.reason ?? undefined,
  commitSha: r.commit_sha ?? undefined,
  branch: r.branch ?? undefined,
  pushedBy: r.pushed_by ?? undefined,
  releaseId: r.release_id ?? undefined,
  createdAt: r.created_at,
  startedAt: r.started_at ?? undefined,
  finishedAt: r.finished_at ?? undefined,
  updatedAt: r.updated_at,
});

interface ReleaseRow {
  id: number;
  app_id: number;
  version: number;
  image: string;
  process_types: ProcessTypes;
  builder: Builder;
  config_snapshot: Buffer;
  source_commit: string | null;
  description: string;
  created_by: number | null;
  created_at: Date;
}

const snapshotContext = (appId: number, version: number): string => `release:${appId}:v${version}`;

export interface NewDeploy {
  appId: number;
  commitSha?: string;
  branch?: string;
  pushedBy?: number;
}

export interface NewRelease {
  appId: number;
  image: string;
  processTypes: ProcessTypes;
  builder?: Builder;
  config: Record<string, string>;
  sourceCommit?: string;
  description?: string;
  createdBy?: number;
}

export class DeploysRepo {
  constructor(
    private readonly db: Db,
    private readonly masterKey: Buffer,
  ) {}

  async create(d: NewDeploy): Promise<Deploy> {
    const r = await this.db.query<DeployRow>(
      `INSERT INTO deploys (app_id, commit_sha, branch, pushed_by) VALUES ($1, $2, $3, $4) RETURNING ${DEPLOY_COLUMNS}`,
      [d.appId, d.commitSha ?? null, d.branch ?? null, d.pushedBy ?? null],
    );
    return toDeploy(r.rows[0]!);
  }

  async find(id: number): Promise<Deploy | undefined> {
    const r = await this.db.query<DeployRow>(`SELECT ${DEPLOY_COLUMNS} FROM deploys WHERE id = $1`, [id]);
    return r.rows[0] && toDeploy(r.rows[0]);
  }

  async get(id: number): Promise<Deploy> {
    const deploy = await this.find(id);
    if (!deploy) throw new ShipoffError('SHIPOFF_DEPLOY_NOT_FOUND', { deploy: String(id) });
    return deploy;
  }

  async listForApp(appId: number, limit = 50): Promise<Deploy[]> {
    const r = await this.db.query<DeployRow>(`SELECT ${DEPLOY_COLUMNS} FROM deploys WHERE app_id = $1 ORDER BY id DESC LIMIT $2`, [appId, limit]);
    return r.rows.map(toDeploy);
  }

  async live(appId: number): Promise<Deploy | undefined> {
    const r = await this.db.query<DeployRow>(`SELECT ${DEPLOY_COLUMNS} FROM deploys WHERE app_id = $1 AND state = 'LIVE'`, [appId]);
    return r.rows[0] && toDeploy(r.rows[0]);
  }

  /**
   * Moves a deploy to its next state. Going LIVE supersedes the app's current
   * LIVE deploy in the same transaction; the app row is locked first so two
   * deploys going live at once take turns instead of colliding.
   */
  async transition(id: number, to: DeployState, options: { reason?: string; releaseId?: number } = {}): Promise<Deploy> {
    return this.db.tx(async (tx) => {
      const current = await tx.query<DeployRow>(`SELECT ${DEPLOY_COLUMNS} FROM deploys WHERE id = $1 FOR UPDATE`, [id]);
      const row = current.rows[0];
      if (!row) throw new ShipoffError('SHIPOFF_DEPLOY_NOT_FOUND', { deploy: String(id) });
      assertTransition(id, row.state, to);
      if (to === 'FAILED' && !options.reason) throw new Error('a FAILED deploy needs a reason');
      if (to === 'LIVE') {
        await tx.query('SELECT id FROM apps WHERE id = $1 FOR UPDATE', [row.app_id]);
        await tx.query(
          `UPDATE deploys SET state = 'SUPERSEDED', updated_at = now() WHERE app_id = $1 AND state = 'LIVE' AND id <> $2`,
          [row.app_id, id],
        );
      }
      try {
        const r = await tx.query<DeployRow>(
          `UPDATE deploys SET state = $2, reason = COALESCE($3, reason), release_id = COALESCE($4, release_id),
             started_at = CASE WHEN $2 = 'BUILDING' THEN now() ELSE started_at END,
             finished_at = CASE WHEN $2 IN ('LIVE', 'FAILED', 'CANCELLED') THEN now() ELSE finished_at END,
             updated_at = now()
           WHERE id = $1 RETURNING ${DEPLOY_COLUMNS}`,
          [id, to, options.reason ?? null, options.releaseId ?? null],
        );
        return toDeploy(r.rows[0]!);
      } catch (err) {
        throw translateDeployError(err, row, to);
      }
    });
  }

  /** Deploys that never finished: after a host restart they are marked FAILED. */
  async unfinished(): Promise<Deploy[]> {
    const r = await this.db.query<DeployRow>(`SELECT ${DEPLOY_COLUMNS} FROM deploys WHERE state IN ('QUEUED', 'BUILDING', 'RELEASING') ORDER BY id`);
    return r.rows.map(toDeploy);
  }

  async appendLog(id: number, text: string): Promise<void> {
    await this.db.query('UPDATE deploys SET build_log = build_log || $2, updated_at = now() WHERE id = $1', [id, text]);
  }

  async log(id: number): Promise<string> {
    const r = await this.db.query<{ build_log: string }>('SELECT build_log FROM deploys WHERE id = $1', [id]);
    if (!r.rows[0]) throw new ShipoffError('SHIPOFF_DEPLOY_NOT_FOUND', { deploy: String(id) });
    return r.rows[0].build_log;
  }

  // --- releases -------------------------------------------------------------

  /** The version the app's next release will get (the image is tagged with it before the row exists). */
  async nextReleaseVersion(appId: number): Promise<number> {
    const r = await this.db.query<{ v: number }>('SELECT COALESCE(max(version), 0) + 1 AS v FROM releases WHERE app_id = $1', [appId]);
    return r.rows[0]!.v;
  }

  /** Records a new release numbered one past the app's latest (v1, v2, ...). */
  async createRelease(n: NewRelease): Promise<Release> {
    return this.db.tx(async (tx) => {
      await tx.query('SELECT id FROM apps WHERE id = $1 FOR UPDATE', [n.appId]);
      const next = await tx.query<{ v: number }>('SELECT COALESCE(max(version), 0) + 1 AS v FROM releases WHERE app_id = $1', [n.appId]);
      const version = next.rows[0]!.v;
      const sealed = seal(this.masterKey, JSON.stringify(n.config), snapshotContext(n.appId, version));
      const r = await tx.query<ReleaseRow>(
        `INSERT INTO releases (app_id, version, image, process_types, builder, config_snapshot, source_commit, description, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
        [n.appId, version, n.image, JSON.stringify(n.processTypes), n.builder ?? 'buildpack', sealed, n.sourceCommit ?? null, n.description ?? '', n.createdBy ?? null],
      );
      return this.toRelease(r.rows[0]!);
    });
  }

  async findRelease(appId: number, version: number): Promise<Release | undefined> {
    const r = await this.db.query<ReleaseRow>('SELECT * FROM releases WHERE app_id = $1 AND version = $2', [appId, version]);
    return r.rows[0] && this.toRelease(r.rows[0]);
  }

  async releaseById(id: number): Promise<Release | undefined> {
    const r = await this.db.query<ReleaseRow>('SELECT * FROM releases WHERE id = $1', [id]);
    return r.rows[0] && this.toRelease(r.rows[0]);
  }

  async releases(appId: number, limit = 50): Promise<Release[]> {
    const r = await this.db.query<ReleaseRow>('SELECT * FROM releases WHERE app_id = $1 ORDER BY version DESC LIMIT $2', [appId, limit]);
    return r.rows.map((row) => this.toRelease(row));
  }

  /** The release the app's LIVE deploy runs, if any. */
  async liveRelease(appId: number): Promise<Release | undefined> {
    const r = await this.db.query<ReleaseRow>(
      `SELECT r.* FROM releases r JOIN deploys d ON d.release_id = r.id WHERE d.app_id = $1 AND d.state = 'LIVE'`,
      [appId],
    );
    return r.rows[0] && this.toRelease(r.rows[0]);
  }

  /**
   * Points the app's releases at their images' copies under a new name (old
   * reference → new), in one statement; the only change a release allows
   * (migration 6). Returns how many releases changed.
   */
  async renameReleaseImages(appId: number, images: ReadonlyMap<string, string>): Promise<number> {
    if (images.size === 0) return 0;
    const r = await this.db.query(
      `UPDATE releases r SET image = m.new FROM unnest($2::text[], $3::text[]) AS m(old, new)
        WHERE r.app_id = $1 AND r.image = m.old`,
      [appId, [...images.keys()], [...images.values()]],
    );
    return r.rowCount ?? 0;
  }

  private toRelease(r: ReleaseRow): Release {
    let config: Record<string, string>;
    try {
      config = JSON.parse(open(this.masterKey, r.config_snapshot, snapshotContext(r.app_id, r.version))) as Record<string, string>;
    } catch (err) {
      throw new ShipoffError('SHIPOFF_SECRET_UNREADABLE', { what: `the config snapshot of release v${r.version}` }, { cause: err });
    }
    return {
      id: r.id,
      appId: r.app_id,
      version: r.version,
      image: r.image,
      processTypes: r.process_types,
      builder: r.builder,
      config,
      sourceCommit: r.source_commit ?? undefined,
      description: r.description,
      createdBy: r.created_by ?? undefined,
      createdAt: r.created_at,
    };
  }
}

function translateDeployError(err: unknown, row: DeployRow, to: DeployState): unknown {
  const pgErr = pgErrorOf(err);
  if (pgErr?.code === ILLEGAL_TRANSITION) {
    return new ShipoffError('SHIPOFF_ILLEGAL_TRANSITION', { deploy: String(row.id), from: row.state, to }, { cause: err });
  }
  if (pgErr?.code === UNIQUE_VIOLATION && pgErr.constraint === 'deploys_one_live_per_app') {
    return new ShipoffError('SHIPOFF_ALREADY_LIVE', { app: String(row.app_id) }, { cause: err });
  }
  return err;
}
