// The Docker labels that carry an instance's identity. State lives on the
// container, not in memory, so a restarted host finds (and adopts) what an
// earlier process started.
import type Dockerode from 'dockerode';
import type { Instance, InstanceSpec, InstanceState } from '../runtime.js';

export const MANAGED = 'com.shipoff.managed';
export const LABEL = {
  app: 'shipoff.app',
  release: 'shipoff.release',
  process: 'shipoff.process',
  index: 'shipoff.index',
  /** The port a web instance listens on: list() needs it to give an address. */
  port: 'shipoff.port',
  /** Which host started it, when several share one engine. */
  host: 'shipoff.host',
} as const;

export function instanceLabels(spec: InstanceSpec, hostId?: string): Record<string, string> {
  const labels: Record<string, string> = {
    [MANAGED]: 'true',
    [LABEL.app]: spec.app,
    [LABEL.release]: String(spec.release),
    [LABEL.process]: spec.processType,
    [LABEL.index]: String(spec.index),
  };
  if (spec.port !== undefined) labels[LABEL.port] = String(spec.port);
  if (hostId !== undefined) labels[LABEL.host] = hostId;
  return labels;
}

/** Label filters for every query: managed always, then this host and app when given. */
export function managedFilter(hostId?: string, app?: string): string[] {
  const filter = [`${MANAGED}=true`];
  if (hostId !== undefined) filter.push(`${LABEL.host}=${hostId}`);
  if (app !== undefined) filter.push(`${LABEL.app}=${app}`);
  return filter;
}

/** Instances only: build containers are managed too (the stack image carries the label), but have no process type. */
export function instanceFilter(hostId?: string, app?: string): string[] {
  return [...managedFilter(hostId, app), LABEL.process];
}

export function isManaged(labels: Record<string, string> | undefined, hostId?: string): boolean {
  if (labels?.[MANAGED] !== 'true') return false;
  return hostId === undefined || labels[LABEL.host] === hostId;
}

/** Managed and an instance: the stack image's own label makes every container from it look managed. */
export function isInstance(labels: Record<string, string> | undefined, hostId?: string): boolean {
  return isManaged(labels, hostId) && labels?.[LABEL.process] !== undefined && labels[LABEL.app] !== undefined;
}

/** Docker allows [a-zA-Z0-9_.-] in names; a process type could hold anything. */
function namePart(text: string): string {
  return text.replace(/[^a-zA-Z0-9_.-]/g, '-');
}

export function containerName(spec: InstanceSpec, random: string): string {
  return `shipoff-${namePart(spec.app)}-${namePart(spec.processType)}-${spec.index}-v${spec.release}-${random}`;
}

/** Docker's words for a container's state, in the contract's. */
export function stateOf(dockerState: string, exitCode: number | undefined): InstanceState {
  switch (dockerState) {
    case 'running':
      return 'running';
    case 'paused':
      return 'paused';
    case 'created':
      return 'starting';
    // Between restarts of a crash loop: not serving, whatever comes next.
    case 'restarting':
      return 'crashed';
    case 'exited':
      return exitCode === 0 ? 'stopped' : 'crashed';
    default: // removing, dead
      return 'stopped';
  }
}

interface Identity {
  id: string;
  labels: Record<string, string>;
  state: InstanceState;
  ip?: string;
  startedAt?: Date;
}

export function instanceOf({ id, labels, state, ip, startedAt }: Identity): Instance {
  const instance: Instance = {
    id,
    app: labels[LABEL.app] ?? '',
    release: Number(labels[LABEL.release]),
    processType: labels[LABEL.process] ?? '',
    index: Number(labels[LABEL.index]),
    state,
  };
  const port = labels[LABEL.port];
  // A stopped container keeps no IP; only one that holds an IP can be reached.
  if (port !== undefined && ip) instance.address = { host: ip, port: Number(port) };
  if (startedAt !== undefined && !Number.isNaN(startedAt.getTime())) instance.startedAt = startedAt;
  return instance;
}

/** "Exited (137) 3 seconds ago" → 137; the list endpoint gives no exit code field. */
function exitCodeFromStatus(status: string): number | undefined {
  const match = /^Exited \((-?\d+)\)/.exec(status);
  return match ? Number(match[1]) : undefined;
}

export function instanceFromSummary(info: Dockerode.ContainerInfo, network: string): Instance {
  return instanceOf({
    id: info.Id,
    labels: info.Labels,
    state: stateOf(info.State, exitCodeFromStatus(info.Status)),
    ip: info.NetworkSettings?.Networks?.[network]?.IPAddress,
    startedAt: new Date(info.Created * 1000),
  });
}

export function instanceFromInspect(info: Dockerode.ContainerInspectInfo, network: string): Instance {
  return instanceOf({
    id: info.Id,
    labels: info.Config.Labels ?? {},
    state: stateOf(info.State.Status, info.State.ExitCode),
    ip: info.NetworkSettings.Networks[network]?.IPAddress,
    startedAt: new Date(info.State.StartedAt),
  });
}
