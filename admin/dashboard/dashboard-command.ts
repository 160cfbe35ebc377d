// `shipoff dashboard` (on the host) and `ssh -t shipoff@HOST dashboard`: a
// live terminal view of the apps the caller may see, with keys for the
// actions their role allows. It runs in the host's process either way and
// draws into the caller's terminal, so it needs one (ssh -t).
import { ShipoffError } from '../../core/index.js';
import type { Command, CommandRegistry } from '../registry.js';
import { DashboardSession } from './session.js';

/** REGISTRY makes the registry the dashboard's actions run through (the same commands as over SSH). */
export function dashboardCommand(registry: () => CommandRegistry): Command {
  return {
    name: 'dashboard',
    group: 'apps',
    summary: 'A live view of your apps (state, instances, traffic, builds, logs), with keys to restart, scale, roll back',
    usage: '',
    description:
      'Needs a terminal: over SSH, ssh -t -p PORT shipoff@HOST dashboard. Keys: arrows and enter to move and open,\n' +
      'l logs, r restart, s scale, b rollback, z autosleep on/off, / filter, ? help, q quit.\n' +
      'You see the apps you hold a role on (host administrators: all), and only the keys your role allows.',
    arity: [0, 0],
    needsStore: true,
    needsHost: true,
    async run(ctx) {
      if (!ctx.terminal) throw new ShipoffError('SHIPOFF_NEEDS_TERMINAL', { what: 'dashboard', command: 'dashboard', port: String(ctx.settings.sshPort) });
      return new DashboardSession(ctx, registry).run();
    },
  };
}
