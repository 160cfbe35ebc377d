// The router's access records, kept per app for the app's logs view: the last
// LINES_PER_APP lines of each app, in memory, formatted like Heroku's router
// lines. Bounded in apps too, so host names nobody deployed cannot grow it.
import type { AccessRecord } from '../router/index.js';

const LINES_PER_APP = 1_000;
const MAX_APPS = 10_000;

export class AccessLog {
  private readonly lines = new Map<string, string[]>();

  constructor(
    private readonly perApp = LINES_PER_APP,
    private readonly maxApps = MAX_APPS,
  ) {}

  add(record: AccessRecord): void {
    let lines = this.lines.get(record.app);
    if (!lines) {
      if (this.lines.size >= this.maxApps) return;
      lines = [];
      this.lines.set(record.app, lines);
    }
    lines.push(formatAccess(record));
    if (lines.length > this.perApp) lines.splice(0, lines.length - this.perApp);
  }

  /** The app's last N lines, oldest first. */
  last(app: string, n = this.perApp): string[] {
    return (this.lines.get(app) ?? []).slice(-n);
  }

  forget(app: string): void {
    this.lines.delete(app);
  }
}

/** `2026-11-25T08:00:00.000Z router: at=info method=GET path="/" status=200 bytes=2 service=3ms instance=172.18.0.2:5000 request_id=…` */
export function formatAccess(r: AccessRecord): string {
  const path = JSON.stringify(r.path.length > 512 ? `${r.path.slice(0, 512)}…` : r.path);
  const level = r.status >= 500 || r.upstreamError ? 'error' : 'info';
  return (
    `${r.time} router: at=${level} method=${r.method} path=${path} status=${r.status} bytes=${r.bytes} ` +
    `service=${Math.round(r.durationMs)}ms instance=${r.backend ?? 'none'} request_id=${r.requestId}` +
    (r.upstreamError ? ` error=${r.upstreamError}` : '')
  );
}
