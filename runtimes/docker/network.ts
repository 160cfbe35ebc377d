// The runtime's own bridge network: instances join it and the host reaches
// them at their IP on it, so no port is ever published.
//
// Docker 20.10 does not keep network names unique (CheckDuplicate is a
// best-effort check, racy between two creators), so after creating we look
// again, keep the oldest network of that name and remove the others. Every
// racer elects the same one, and the oldest is the one a winner may already
// have put containers on.
import type Dockerode from 'dockerode';
import { ShipoffError } from '../../core/errors.js';
import { MANAGED } from './labels.js';

interface NetworkSummary {
  Id: string;
  Name: string;
  Created: string;
  Labels?: Record<string, string>;
}

async function sameName(docker: Dockerode, name: string): Promise<NetworkSummary[]> {
  // The name filter matches substrings; keep exact matches only.
  const found = (await docker.listNetworks({ filters: { name: [name] } })) as NetworkSummary[];
  return found.filter((n) => n.Name === name);
}

/** RFC 3339 with nanoseconds of varying length: compare seconds, then the padded fraction. */
function createdKey(created: string): string {
  const [whole = '', rest = ''] = created.split('.');
  const fraction = /^\d*/.exec(rest)?.[0] ?? '';
  return `${whole}.${fraction.padEnd(9, '0')}`;
}

function oldest(networks: NetworkSummary[]): NetworkSummary | undefined {
  return [...networks].sort((a, b) => createdKey(a.Created).localeCompare(createdKey(b.Created)) || a.Id.localeCompare(b.Id))[0];
}

function theirs(networks: NetworkSummary[]): NetworkSummary | undefined {
  return networks.find((n) => n.Labels?.[MANAGED] !== 'true');
}

/** Finds or creates the network; resolves to its id. */
export async function ensureNetwork(docker: Dockerode, name: string): Promise<string> {
  let found = await sameName(docker, name);
  const foreign = theirs(found);
  if (foreign) throw new ShipoffError('SHIPOFF_RUNTIME_NETWORK_TAKEN', { network: name });
  if (found.length === 0) {
    await docker.createNetwork({
      Name: name,
      Driver: 'bridge',
      CheckDuplicate: true,
      Labels: { [MANAGED]: 'true' },
      // Apps cannot reach each other's instances; the host (router) still reaches all.
      Options: { 'com.docker.network.bridge.enable_icc': 'false' },
    }).catch((err: { statusCode?: number }) => {
      // 409: another creator got there first, which is what we wanted.
      if (err.statusCode !== 409) throw err;
    });
    found = await sameName(docker, name);
  }
  const keep = oldest(found.filter((n) => n.Labels?.[MANAGED] === 'true'));
  if (!keep) throw new ShipoffError('SHIPOFF_RUNTIME_NETWORK_TAKEN', { network: name });
  for (const extra of found.filter((n) => n.Id !== keep.Id && n.Labels?.[MANAGED] === 'true')) {
    // Another racer may be removing it too; gone is fine.
    await docker.getNetwork(extra.Id).remove().catch(() => {});
  }
  return keep.Id;
}
