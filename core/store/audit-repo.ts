// The audit log: who did what to which app, and when.
import type { AuditEvent } from '../model.js';
import type { Db } from './db.js';

export interface NewAuditEvent {
  actor: string;
  app?: string;
  action: string;
  details?: Record<string, unknown>;
}

export class AuditRepo {
  constructor(private readonly db: Db) {}

  async record(e: NewAuditEvent): Promise<void> {
    await this.db.query('INSERT INTO audit_events (actor, app_name, action, details) VALUES ($1, $2, $3, $4)', [
      e.actor,
      e.app ?? null,
      e.action,
      JSON.stringify(e.details ?? {}),
    ]);
  }

  /** Newest first. */
  async list(options: { app?: string; limit?: number } = {}): Promise<AuditEvent[]> {
    const r = await this.db.query<{ id: number; at: Date; actor: string; app_name: string | null; action: string; details: Record<string, unknown> }>(
      `SELECT * FROM audit_events WHERE ($1::text IS NULL OR app_name = $1) ORDER BY id DESC LIMIT $2`,
      [options.app ?? null, options.limit ?? 100],
    );
    return r.rows.map((row) => ({ id: row.id, at: row.at, actor: row.actor, appName: row.app_name ?? undefined, action: row.action, details: row.details }));
  }
}
