// The one contract every runtime answers (Docker first, Kubernetes/k3s later),
// so the deployer and the router never know which one runs an app. Runtimes
// know nothing of who calls them: they take plain descriptions and act.

export interface InstanceSpec {
  app: string;
  release: number;
  processType: string;
  /** Index within the process type: web.1, web.2, ... */
  index: number;
  image: string;
  /** argv run in the image, without any shell on the host; [] runs the image's own command. */
  command: string[];
  env: Record<string, string>;
  /** Set for process types that serve HTTP (web): the port the app listens on. */
  port?: number;
  memoryBytes?: number;
  cpus?: number;
}

export type InstanceState = 'starting' | 'running' | 'paused' | 'stopped' | 'crashed';

export interface Instance {
  id: string;
  app: string;
  release: number;
  processType: string;
  index: number;
  state: InstanceState;
  /** Where the router reaches a web instance. */
  address?: { host: string; port: number };
  startedAt?: Date;
}

export interface Runtime {
  readonly name: string;
  /** Is the engine there and answering? A reason when not. */
  ping(): Promise<{ ok: true } | { ok: false; reason: string }>;
  start(spec: InstanceSpec): Promise<Instance>;
  stop(instanceId: string, graceMs?: number): Promise<void>;
  /** Freezes an idle instance (the warm tier of scale to zero) and thaws it. */
  pause(instanceId: string): Promise<void>;
  resume(instanceId: string): Promise<void>;
  /** Stops an idle instance's process but keeps the instance (the cold tier):
   * unpark starts the same one again, faster than starting a new one. */
  park(instanceId: string, graceMs?: number): Promise<void>;
  /** Starts a parked instance again; its address may have changed. */
  unpark(instanceId: string): Promise<Instance>;
  /** Every instance this host owns (and only those), for one app or all. */
  list(app?: string): Promise<Instance[]>;
  /** Follows an instance's output, line by line, until the signal aborts. */
  logs(instanceId: string, options: LogOptions): AsyncIterable<string>;
  /** Runs a one-off process (`shipoff run`) to its end with the caller's stdio, then removes it;
   * resolves to its exit status. It is no instance: list() and onEvent never report it. */
  runOneOff(spec: OneOffSpec, io: OneOffIo): Promise<number>;
  /** Removes everything the runtime holds for an app: instances and images. */
  removeApp(app: string): Promise<void>;
  /** A renamed app's release images, given its new name (shipoff/NEW:vN, labelled as NEW's) so that a
   * new app of the old name can neither take them over nor remove them. The originals stay until
   * untagImages; resolves to old → new reference (one whose image is gone maps too, and stays missing). */
  renameImages(images: string[], newApp: string): Promise<Map<string, string>>;
  /** Drops image references (tags); an image stays while another reference or image needs it. */
  untagImages(images: string[]): Promise<void>;
  /** Calls back when an instance crashes (exits on its own) and when the runtime restarts it.
   * Returns a function that unsubscribes. */
  onEvent(listener: (event: RuntimeEvent) => void): () => void;
  /** Stops watching the engine; instances keep running. */
  close(): Promise<void>;
}

export interface LogOptions {
  /** Keep going as the instance writes (until it stops or the signal aborts). */
  follow: boolean;
  /** Only the last N lines (of what `since` leaves). */
  tail?: number;
  /** Only lines written at or after this moment. */
  since?: Date;
  /** Each line starts with when it was written: an RFC 3339 timestamp (nanoseconds, UTC) and a space. */
  timestamps?: boolean;
  signal?: AbortSignal;
}

/** An instance's image, command, env and limits, run once: processType `run`, index N (DYNO=run.N). */
export interface OneOffSpec extends Omit<InstanceSpec, 'port'> {
  /** A terminal of this size; its output then comes on stdout alone, as from any terminal. */
  tty?: { cols: number; rows: number };
}

export interface OneOffIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Aborted when the caller goes away: the process is killed and removed. */
  signal: AbortSignal;
  /** With a tty: follows the caller's window size; returns an unsubscribe. */
  onResize?: (listener: (size: { cols: number; rows: number }) => void) => () => void;
}

export type RuntimeEvent =
  | { type: 'crash'; instance: Instance; exitCode: number; restarting: boolean }
  | { type: 'restart'; instance: Instance };
