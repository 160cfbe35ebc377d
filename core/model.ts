// The shapes every part shares. Rows come out of the store in these forms.
import type { DeployState } from './deploy-state.js';

export const ROLES = ['owner', 'admin', 'developer', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** Higher ranks include everything lower ranks may do. */
export const ROLE_RANK: Readonly<Record<Role, number>> = { viewer: 1, developer: 2, admin: 3, owner: 4 };

export function roleAtLeast(have: Role | undefined, need: Role): boolean {
  return have !== undefined && ROLE_RANK[have] >= ROLE_RANK[need];
}

export interface User {
  id: number;
  name: string;
  isAdmin: boolean;
  createdAt: Date;
}

export interface SshKey {
  id: number;
  userId: number;
  userName: string;
  keyType: string;
  publicKey: string;
  comment: string;
  fingerprint: string;
  createdAt: Date;
}

export interface App {
  id: number;
  name: string;
  deployBranch: string;
  /** undefined: never sleeps */
  sleepAfterSeconds: number | undefined;
  settings: Record<string, unknown>;
  createdAt: Date;
}

export interface AccessGrant {
  appId: number;
  appName: string;
  userId: number;
  userName: string;
  role: Role;
  grantedAt: Date;
}

export interface Deploy {
  id: number;
  appId: number;
  state: DeployState;
  reason: string | undefined;
  commitSha: string | undefined;
  branch: string | undefined;
  pushedBy: number | undefined;
  releaseId: number | undefined;
  createdAt: Date;
  startedAt: Date | undefined;
  finishedAt: Date | undefined;
  updatedAt: Date;
}

/** Process type → command, as from a Procfile. */
export type ProcessTypes = Record<string, string>;
export type Builder = 'buildpack' | 'dockerfile';

export interface Release {
  id: number;
  appId: number;
  version: number;
  image: string;
  processTypes: ProcessTypes;
  /** How its processes start: see launchArgv in buildpacks/launch.ts. */
  builder: Builder;
  /** Decrypted config vars this release runs with. */
  config: Record<string, string>;
  sourceCommit: string | undefined;
  description: string;
  createdBy: number | undefined;
  createdAt: Date;
}


/** Process type → desired instance count. */
export type Formation = Record<string, number>;

export interface AuditEvent {
  id: number;
  at: Date;
  actor: string;
  appName: string | undefined;
  action: string;
  details: Record<string, unknown>;
}
