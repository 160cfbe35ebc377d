// The life of a deploy. The same table is enforced twice: here, so callers get
// a typed error before touching the database, and by a trigger in the schema
// (see migrations.ts), so no code path can write an illegal state.
import { ShipoffError } from './errors.js';

export const DEPLOY_STATES = ['QUEUED', 'BUILDING', 'RELEASING', 'LIVE', 'SUPERSEDED', 'FAILED', 'CANCELLED'] as const;
export type DeployState = (typeof DEPLOY_STATES)[number];

export const DEPLOY_TRANSITIONS: Readonly<Record<DeployState, readonly DeployState[]>> = {
  // QUEUED → RELEASING: a release made without a build (config change, rollback).
  QUEUED: ['BUILDING', 'RELEASING', 'FAILED', 'CANCELLED'],
  BUILDING: ['RELEASING', 'FAILED', 'CANCELLED'],
  RELEASING: ['LIVE', 'FAILED', 'CANCELLED'],
  LIVE: ['SUPERSEDED'],
  SUPERSEDED: [],
  FAILED: [],
  CANCELLED: [],
};

export function isFinished(state: DeployState): boolean {
  return DEPLOY_TRANSITIONS[state].length === 0;
}

export function canTransition(from: DeployState, to: DeployState): boolean {
  return DEPLOY_TRANSITIONS[from].includes(to);
}

export function assertTransition(deployId: string | number, from: DeployState, to: DeployState): void {
  if (!canTransition(from, to)) {
    throw new ShipoffError('SHIPOFF_ILLEGAL_TRANSITION', { deploy: String(deployId), from, to });
  }
}
