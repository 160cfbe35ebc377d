// What admin commands ask of a running host: the operations that touch
// instances, traffic and files, not just the store. The host implements it
// (host/host-ops.ts); admin/ knows only this contract. Commands that need it
// declare needsHost, and get SHIPOFF_HOST_NOT_RUNNING where there is none.
import type { Readable, Writable } from 'node:stream';
import type { App, Formation, Release } from '../core/index.js';
import type { DashboardFeed } from './dashboard/feed.js';

/** The client's terminal, when it asked for one (ssh -t). */
export interface Terminal {
  cols: number;
  rows: number;
  term: string;
  /** Calls back when the client's window changes size; returns an unsubscribe. */
  onResize(listener: (size: { cols: number; rows: number }) => void): () => void;
}

/** Where a host operation reports progress, line by line (like a push's remote: lines). */
export type Progress = (line: string) => void;

export type { InstanceReport, ReleaseChange } from '../deployer/index.js';
import type { InstanceReport, ReleaseChange } from '../deployer/index.js';

export interface LogLine {
  at: Date;
  /** `web.1`, `worker.1`, or `router`. */
  source: string;
  text: string;
}

export interface RunIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  terminal?: Terminal;
  /** Aborted when the client goes away: the one-off container is then removed. */
  signal: AbortSignal;
}

export interface HostOps {
  /** Makes a release (config change, rollback, limits) and rolls it out; undefined when the app has no release yet (the change is kept for its first deploy). */
  release(app: App, change: ReleaseChange, actor: string, progress: Progress): Promise<Release | undefined>;
  /** New instances of the live release replace the running ones, with zero downtime. */
  restart(app: App, actor: string, progress: Progress): Promise<void>;
  /** Sets the formation and starts or drains instances to match it. */
  scale(app: App, changes: Formation, actor: string, progress: Progress): Promise<Formation>;
  /** Stops every instance and keeps the app stopped (no wake, no start at host start) until start(). */
  stop(app: App, actor: string, progress: Progress): Promise<void>;
  start(app: App, actor: string, progress: Progress): Promise<void>;
  instances(app: string): Promise<InstanceReport[]>;
  /** The app's output from every instance and the router's access lines, oldest first; follow keeps going until the signal aborts. */
  logs(app: App, options: { follow: boolean; lines: number; processType?: string; signal: AbortSignal }): AsyncIterable<LogLine>;
  /** A one-off container from the live release with the app's config; resolves to its exit status. */
  run(app: App, argv: string[], io: RunIo): Promise<number>;
  /** Removes the app and everything of it (instances, images, repo, cache, routes, static files, store rows). */
  destroy(app: App, actor: string, progress: Progress): Promise<void>;
  /** Renames the app: store, repository, cache, instances and routes follow. */
  rename(app: App, newName: string, actor: string, progress: Progress): Promise<App>;
  /** What the dashboard shows: every app's state and rates, kept current while watched. */
  dashboardFeed(): DashboardFeed;
}
