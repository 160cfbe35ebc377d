// The data contract between the running host and the dashboard: what the host
// knows about every app right now (snapshot), a signal when that changed
// (watch), and the heavier look at one app (detail) asked for only while
// its pane is open. The host implements it (host/dashboard-feed.ts); the
// dashboard filters by role, so the feed itself is host-wide.
import type { DeployState } from '../../core/index.js';

/** How an app is doing, as the table shows it. */
export type AppState = 'LIVE' | 'SLEEPING' | 'WAKING' | 'BUILDING' | 'FAILED' | 'STOPPED';

export interface ProcessCount {
  type: string;
  running: number;
  desired: number;
}

export interface AppSnapshot {
  name: string;
  state: AppState;
  processes: ProcessCount[];
  /** The live release's version. */
  release?: number;
  lastDeploy?: { id: number; state: DeployState; at: Date; reason?: string };
  /** Requests per second over the last sample interval. */
  rps: number;
  /** 95th percentile latency over the last half minute, ms; undefined without requests. */
  p95Ms?: number;
  /** Memory of the app's running instances, bytes; undefined when none runs or it is not known yet. */
  memoryBytes?: number;
  /** One value per sample interval, oldest first: requests per second and wake-ups. */
  rpsHistory: number[];
  wakeHistory: number[];
  /** Seconds without a request before the app sleeps; 0 = never. */
  autosleepSeconds: number;
}

export interface HostSnapshot {
  engine: { ok: true } | { ok: false; reason: string };
  buildsRunning: number;
  buildsQueued: number;
  /** Bytes of this host's images and of its build caches; undefined until measured. */
  imagesBytes?: number;
  cacheBytes?: number;
}

export interface Snapshot {
  at: Date;
  /** Seconds between two history samples. */
  sampleSeconds: number;
  host: HostSnapshot;
  apps: AppSnapshot[];
}

export interface InstanceDetail {
  name: string;
  state: string;
  release: number;
  cpuPercent?: number;
  memoryBytes?: number;
}

export interface AppDetail {
  name: string;
  formation: Record<string, number>;
  instances: InstanceDetail[];
  releases: Array<{ version: number; description: string; createdAt: Date; live: boolean }>;
  /** The deploy being built or released now (or the last one), with its output so far. */
  build?: { id: number; state: DeployState; output: string };
}

export interface DashboardFeed {
  /** The latest snapshot (measured on first call, then kept current while watched). */
  snapshot(): Promise<Snapshot>;
  /** Calls back each time the snapshot changed; the feed samples only while someone watches. */
  watch(onChange: (snapshot: Snapshot) => void): () => void;
  /** One app's formation, instances with CPU and memory, releases and build output. */
  detail(app: string): Promise<AppDetail>;
}
