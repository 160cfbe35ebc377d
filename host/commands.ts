// Host-level commands: they start roles rather than act on the store.
import { SETTING_DOCS } from '../core/index.js';
import type { Command } from '../admin/index.js';
import { runHost } from './host.js';
import { ROLE_FACTORIES } from './roles.js';

const ENVIRONMENT_HELP =
  'Environment:\n' + SETTING_DOCS.map((d) => `  ${d.name.padEnd(18)} ${d.description}\n  ${''.padEnd(18)} default: ${d.default}`).join('\n');

export const up: Command = {
  name: 'up',
  group: 'host',
  summary: 'Start the host: every role in one process, until SIGTERM or Ctrl-C',
  usage: '',
  description: `Starts ${Object.keys(ROLE_FACTORIES).join(', ')} over one store (the embedded PostgreSQL unless DATABASE_URL is set).\n\n${ENVIRONMENT_HELP}`,
  arity: [0, 0],
  needsStore: false,
  run: (ctx) => runHost(ctx.settings, Object.keys(ROLE_FACTORIES), ctx),
};

export const router: Command = {
  name: 'router',
  group: 'host',
  summary: 'Start only the HTTP router, against the same store as the host',
  usage: '',
  description: ENVIRONMENT_HELP,
  arity: [0, 0],
  needsStore: false,
  run: (ctx) => runHost(ctx.settings, ['router'], ctx),
};

export const hostCommands: Command[] = [up, router];
