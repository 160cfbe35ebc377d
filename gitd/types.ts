// The shapes gitd shares with whoever wires it (the host): what a push looks
// like to the deployer, and what the daemon needs to run.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable, Writable } from 'node:stream';
import type { App, Store, User } from '../core/index.js';

/** One line of what pre-receive reads on stdin. */
export interface RefUpdate {
  oldSha: string;
  newSha: string;
  ref: string;
}

export interface PushRequest {
  app: App;
  user: User;
  updates: RefUpdate[];
  /** The bare repository; run git with cwd here and env gitEnv to see the pushed objects. */
  gitDir: string;
  /**
   * GIT_DIR, GIT_OBJECT_DIRECTORY, GIT_ALTERNATE_OBJECT_DIRECTORIES and
   * GIT_QUARANTINE_PATH as the hook saw them, made absolute and checked to lie
   * inside the repository: the pushed objects sit in git's quarantine until
   * the hook accepts.
   */
  gitEnv: Record<string, string>;
  /** Each line shows up in the pusher's terminal as "remote: <line>" as soon as it is given. */
  output: (line: string) => void;
  /** Aborted when the pusher goes away (Ctrl-C, connection lost) or the daemon closes. */
  signal: AbortSignal;
  /** This push created the app. */
  appCreated: boolean;
  /** Settles when the git process ended, i.e. after git updated (or left) the refs. */
  ended: Promise<void>;
}

/** accept=false rejects the push: git leaves the refs as they were. */
export type PushHandler = (push: PushRequest) => Promise<{ accept: boolean }>;

/** An SSH exec request that is not git, for the admin commands. */
export interface SshCommand {
  user: User;
  /** The command line split into words the way a POSIX shell would, without running one. */
  argv: string[];
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** Set when the client asked for a terminal (ssh -t). */
  terminal?: SshTerminal;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
}

/** The terminal an SSH client asked for: its size and type, and the size changes it reports. */
export interface SshTerminal {
  cols: number;
  rows: number;
  term: string;
  /** Calls back on each window-change; returns an unsubscribe. */
  onResize(listener: (size: { cols: number; rows: number }) => void): () => void;
}

/** Resolves with the exit status. A thrown ShipoffError is shown Dokku-style on stderr. */
export type SshCommandHandler = (command: SshCommand) => Promise<number>;

export interface GitdOptions {
  store: Store;
  dataDir: string;
  sshPort: number;
  /** Default 0.0.0.0. */
  sshHost?: string;
  onPush: PushHandler;
  /** Anything over SSH that is not git-receive-pack/git-upload-pack; without it such commands are refused. */
  onCommand?: SshCommandHandler;
  log: (line: string) => void;
}

export interface Gitd {
  /** Starts the SSH server (port 0 picks a free one) and the hook socket. */
  listen(): Promise<{ port: number }>;
  /** Git smart HTTP, mounted by the router for the host git.<domain>. */
  handleHttp(req: IncomingMessage, res: ServerResponse): void;
  /** Stops accepting, aborts pushes in flight, closes the hook socket. */
  close(): Promise<void>;
  /** The bare repository of an app (the name is checked first). */
  repoPath(app: string): string;
}
