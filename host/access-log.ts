// The router's access records, kept per app for the app's logs view: the last
// LINES_PER_APP lines of each app, in memory, formatted like Heroku's router
// lines. Bounded in apps too, so host names nobody deployed cannot grow it.
// `logs -t` subscribes to an app to hear its new lines as they happen.
import type { AccessRecord } from '../router/index.js';

const LINES_PER_APP = 1_000;
const MAX_APPS = 10_000;

/** One router line: when the request arrived, and the line after the timestamp (`at=info method=GET ...`). */
export interface AccessEntry {
  at: Date;
  text: string;
}

type Listener = (entry: AccessEntry) => void;

export class AccessLog {
  private readonly entries = new Map<string, AccessEntry[]>();
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(
    private readonly perApp = LINES_PER_APP,
    private readonly maxApps = MAX_APPS,
  ) {}

  add(record: AccessRecord): void {
    const entry = { at: new Date(record.time), text: formatAccessFields(record) };
    for (const listener of this.listeners.get(record.app) ?? []) {
      try {
        listener(entry);
      } catch {
        // A follower's trouble is its own; the router goes on.
      }
    }
    let entries = this.entries.get(record.app);
    if (!entries) {
      if (this.entries.size >= this.maxApps) return;
      entries = [];
      this.entries.set(record.app, entries);
    }
    entries.push(entry);
    if (entries.length > this.perApp) entries.splice(0, entries.length - this.perApp);
  }

  /** The app's last N lines, oldest first, formatted whole. */
  last(app: string, n = this.perApp): string[] {
    return this.recent(app, n).map((e) => `${e.at.toISOString()} router: ${e.text}`);
  }

  /** The app's last N entries, oldest first. */
  recent(app: string, n = this.perApp): AccessEntry[] {
    return n <= 0 ? [] : (this.entries.get(app) ?? []).slice(-n);
  }

  /** Calls back with each new line of the app; returns an unsubscribe. */
  subscribe(app: string, listener: Listener): () => void {
    let set = this.listeners.get(app);
    if (!set) this.listeners.set(app, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(app) === set) this.listeners.delete(app);
    };
  }

  forget(app: string): void {
    this.entries.delete(app);
  }
}

/** `2026-11-25T08:00:00.000Z router: at=info method=GET path="/" status=200 bytes=2 service=3ms instance=172.18.0.2:5000 request_id=…` */
export function formatAccess(r: AccessRecord): string {
  return `${r.time} router: ${formatAccessFields(r)}`;
}

/** The fields of a router line, without its timestamp and source. */
export function formatAccessFields(r: AccessRecord): string {
  const path = JSON.stringify(r.path.length > 512 ? `${r.path.slice(0, 512)}…` : r.path);
  const level = r.status >= 500 || r.upstreamError ? 'error' : 'info';
  return (
    `at=${level} method=${r.method} path=${path} status=${r.status} bytes=${r.bytes} ` +
    `service=${Math.round(r.durationMs)}ms instance=${r.backend ?? 'none'} request_id=${r.requestId}` +
    (r.upstreamError ? ` error=${r.upstreamError}` : '')
  );
}
