// What the dashboard shows, apart from how: the apps the viewer may see
// (filtered, one selected), each row's text, the host bar, the sparklines
// and the keys the viewer's role allows. Pure, so it is tested without a
// terminal; screen.ts only puts these strings in boxes.
import { type Role, roleAtLeast } from '../../core/index.js';
import type { AppSnapshot, HostSnapshot, Snapshot } from './feed.js';

export type Action = 'restart' | 'scale' | 'rollback' | 'autosleep';

/** The role each action needs, as its command checks it (ps:restart, ps:scale, rollback, ps:autosleep). */
export const ACTION_ROLE: Readonly<Record<Action, Role>> = { restart: 'developer', scale: 'developer', rollback: 'developer', autosleep: 'admin' };

/** The viewer's standing on one app: 'host-admin' may do everything. */
export type Standing = Role | 'host-admin';

export function mayDo(standing: Standing | undefined, action: Action): boolean {
  if (standing === undefined) return false;
  return standing === 'host-admin' || roleAtLeast(standing, ACTION_ROLE[action]);
}

export const KEYS: ReadonlyArray<{ key: string; what: string; action?: Action }> = [
  { key: '↑↓', what: 'move' },
  { key: 'enter', what: 'open' },
  { key: 'l', what: 'logs' },
  { key: 'r', what: 'restart', action: 'restart' },
  { key: 's', what: 'scale', action: 'scale' },
  { key: 'b', what: 'rollback', action: 'rollback' },
  { key: 'z', what: 'autosleep', action: 'autosleep' },
  { key: '/', what: 'filter' },
  { key: '?', what: 'help' },
  { key: 'q', what: 'quit' },
];

export class DashboardModel {
  private snapshot: Snapshot | undefined;
  private standings = new Map<string, Standing>();
  private selectedName: string | undefined;
  filter = '';

  /** The apps the viewer may see, with their standing on each. */
  setVisible(standings: ReadonlyMap<string, Standing>): void {
    this.standings = new Map(standings);
  }

  visibleNames(): string[] {
    return [...this.standings.keys()];
  }

  update(snapshot: Snapshot): void {
    this.snapshot = snapshot;
  }

  get host(): HostSnapshot | undefined {
    return this.snapshot?.host;
  }

  /** Visible apps matching the filter, by name. */
  rows(): AppSnapshot[] {
    const needle = this.filter.toLowerCase();
    return (this.snapshot?.apps ?? []).filter((a) => this.standings.has(a.name) && a.name.includes(needle)).sort((a, b) => a.name.localeCompare(b.name));
  }

  selected(): AppSnapshot | undefined {
    const rows = this.rows();
    return rows.find((r) => r.name === this.selectedName) ?? rows[0];
  }

  standingOn(app: string): Standing | undefined {
    return this.standings.get(app);
  }

  move(delta: number): void {
    const rows = this.rows();
    if (rows.length === 0) return;
    const at = Math.max(0, rows.findIndex((r) => r.name === this.selected()?.name));
    this.selectedName = rows[Math.min(rows.length - 1, Math.max(0, at + delta))]!.name;
  }

  /** The header and one line per row, fitted to WIDTH columns. */
  table(width: number): { header: string; lines: string[]; selectedIndex: number } {
    const rows = this.rows();
    const selected = this.selected()?.name;
    return {
      header: fit(formatRow(['APP', 'STATE', 'PROCESSES', 'RELEASE', 'LAST DEPLOY', 'REQ/S', 'P95', 'MEM']), width),
      lines: rows.map((r) => fit(formatRow(rowCells(r, this.snapshot?.at ?? new Date())), width)),
      selectedIndex: rows.findIndex((r) => r.name === selected),
    };
  }

  hostBar(): string {
    const h = this.snapshot?.host;
    if (!h) return 'shipoff dashboard: loading…';
    const engine = h.engine.ok ? 'Docker up' : `Docker DOWN (${h.engine.reason})`;
    const disk = `images ${h.imagesBytes === undefined ? '…' : formatBytes(h.imagesBytes)}, caches ${h.cacheBytes === undefined ? '…' : formatBytes(h.cacheBytes)}`;
    return `shipoff  ${engine}  builds ${h.buildsRunning} running, ${h.buildsQueued} queued  ${disk}  apps ${this.rows().length}`;
  }

  /** Two sparklines of the selected app over the history kept, and what they cover. */
  sparklines(width: number): { label: string; lines: string[] } {
    const app = this.selected();
    if (!app) return { label: ' traffic ', lines: ['', ''] };
    const minutes = Math.round((app.rpsHistory.length * (this.snapshot?.sampleSeconds ?? 2)) / 60);
    // Room for the name before the bars and "123.4 max" after them.
    const room = Math.max(1, width - 10 - 12);
    return {
      label: ` ${app.name}: ${minutes < 1 ? 'the last minute' : `the last ${minutes} min`} `,
      lines: [
        fit(`${'req/s'.padEnd(10)}${sparkline(app.rpsHistory, room)} ${formatRate(Math.max(0, ...app.rpsHistory))} max`, width),
        fit(`${'wake-ups'.padEnd(10)}${sparkline(app.wakeHistory, room)} ${app.wakeHistory.reduce((a, b) => a + b, 0)} total`, width),
      ],
    };
  }

  /** The keys the viewer may use on the selected app. */
  footer(): string {
    const standing = this.selected() ? this.standingOn(this.selected()!.name) : undefined;
    return KEYS.filter((k) => !k.action || mayDo(standing, k.action))
      .map((k) => `${k.key} ${k.what}`)
      .join('  ');
  }
}

const WIDTHS = [18, 9, 22, 8, 20, 7, 8, 8];

function formatRow(cells: string[]): string {
  return cells.map((c, i) => (i === cells.length - 1 ? c : c.slice(0, WIDTHS[i]! - 1).padEnd(WIDTHS[i]!))).join('');
}

export function rowCells(a: AppSnapshot, now: Date): string[] {
  const processes = a.processes.length ? a.processes.map((p) => `${p.type} ${p.running}/${p.desired}`).join(' ') : '-';
  const last = a.lastDeploy ? `${formatAge(now.getTime() - a.lastDeploy.at.getTime())} ${a.lastDeploy.state}` : '-';
  return [
    a.name,
    a.state,
    processes,
    a.release === undefined ? '-' : `v${a.release}`,
    last,
    formatRate(a.rps),
    a.p95Ms === undefined ? '-' : formatMs(a.p95Ms),
    a.memoryBytes === undefined ? '-' : formatBytes(a.memoryBytes),
  ];
}

export function fit(text: string, width: number): string {
  return text.length > width ? text.slice(0, Math.max(0, width - 1)) + '…' : text;
}

export function formatBytes(n: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) (value /= 1024), unit++;
  return `${value >= 10 || unit === 0 ? Math.round(value) : value.toFixed(1)}${units[unit]}`;
}

export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function formatRate(rps: number): string {
  if (rps === 0) return '0';
  return rps >= 100 ? String(Math.round(rps)) : rps >= 10 ? rps.toFixed(1) : rps.toFixed(2);
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms)}ms`;
}

const BARS = '▁▂▃▄▅▆▇█';

/** The last WIDTH values as bars, scaled to the largest; no data is blank. */
export function sparkline(values: readonly number[], width: number): string {
  const shown = values.slice(-width);
  const max = Math.max(0, ...shown);
  const bars = shown.map((v) => (max === 0 ? BARS[0] : BARS[Math.min(BARS.length - 1, Math.round((v / max) * (BARS.length - 1)))]!));
  return bars.join('').padStart(width, ' ');
}
