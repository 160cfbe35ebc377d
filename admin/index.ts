// The public entry of admin/: the command registry and the admin commands.
import { accessCommands } from './commands/access.js';
import { appSettingCommands } from './commands/app-settings.js';
import { appCommands } from './commands/apps.js';
import { certCommands } from './commands/certs.js';
import { domainCommands } from './commands/domains.js';
import { historyCommands } from './commands/history.js';
import { keyCommands } from './commands/keys.js';
import { logs } from './commands/logs.js';
import { psAutosleep } from './commands/ps-autosleep.js';
import { tokenCommands } from './commands/tokens.js';
import { whoami } from './commands/whoami.js';
import { configCommands } from './commands/config.js';
import { limitsSet } from './commands/limits.js';
import { psCommands } from './commands/ps.js';
import { rollback } from './commands/rollback.js';
import { run } from './commands/run.js';
import { dashboardCommand } from './dashboard/dashboard-command.js';
import { CommandRegistry } from './registry.js';

export * from './registry.js';
export type { AppDetail, AppSnapshot, AppState, DashboardFeed, HostSnapshot, InstanceDetail, Snapshot } from './dashboard/feed.js';
export { RateSampler } from './dashboard/rates.js';
export type * from './host-ops.js';
export { runCommand, type CommandIo, type CommandSetting } from './run-command.js';

/** A registry holding every admin command (the ones that also run over SSH). */
export function adminCommands(): CommandRegistry {
  return new CommandRegistry().register(...keyCommands, ...tokenCommands, ...appSettingCommands, psAutosleep, ...historyCommands, ...domainCommands, ...certCommands, ...appCommands, ...accessCommands, whoami, logs, ...configCommands, ...psCommands, rollback, limitsSet, run, dashboardCommand(adminCommands));
}
