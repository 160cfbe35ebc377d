// One open dashboard: follows the host's feed into the model, turns keys into
// views and actions, and ends (restoring the terminal) on q, Ctrl-C, or when
// the client goes away. The open app's detail and logs are fetched only while
// they are shown.
import { type App, EXIT } from '../../core/index.js';
import { type CommandContext, type CommandRegistry, isHostAdmin } from '../registry.js';
import { actionRunner, type RunAction } from './actions.js';
import type { AppSnapshot, Snapshot } from './feed.js';
import { ACTION_ROLE, type Action, DashboardModel, mayDo, type Standing } from './model.js';
import { DashboardScreen } from './screen.js';
import { blessedTerm, terminalStreams } from './terminal-io.js';

const DETAIL_REFRESH_MS = 2_000;
/** Who may see what changes rarely (a grant); looked at again after this many snapshots, or when the apps change. */
const STANDINGS_EVERY = 15;

/** The apps the actor may read, with the actor's standing on each (apps:list's rule). */
export async function standingsOf(ctx: CommandContext): Promise<Map<string, Standing>> {
  const actor = ctx.actor;
  if (actor.kind === 'host' || isHostAdmin(actor)) return new Map((await ctx.store.apps.list()).map((a) => [a.name, 'host-admin' as const]));
  const user = actor.user;
  const out = new Map<string, Standing>();
  for (const app of await ctx.store.apps.listVisibleTo(user.id)) {
    const role = await ctx.store.apps.roleOf(app.id, user.id);
    if (role) out.set(app.name, role);
  }
  return out;
}

export class DashboardSession {
  private readonly model = new DashboardModel();
  private readonly act: RunAction;
  private view!: DashboardScreen;
  private detailApp: string | undefined;
  private detailTimer: NodeJS.Timeout | undefined;
  private logsAbort: AbortController | undefined;
  private modal = false;
  private snapshots = 0;
  private knownApps = '';
  private finish: (code: number) => void = () => {};

  constructor(
    private readonly ctx: CommandContext,
    registry: () => CommandRegistry,
  ) {
    this.act = actionRunner(ctx, registry);
  }

  run(): Promise<number> {
    const { ctx } = this;
    const terminal = ctx.terminal!;
    const feed = ctx.host.dashboardFeed();
    return new Promise<number>((resolve) => {
      let done = false;
      const streams = terminalStreams(ctx.stdin, ctx.stdout, terminal, () => this.finish(EXIT.OK));
      this.view = new DashboardScreen(streams, blessedTerm(terminal.term));
      const unwatch = feed.watch((s) => void this.onSnapshot(s));
      const onAbort = (): void => this.finish(EXIT.OK);
      ctx.signal.addEventListener('abort', onAbort);
      this.finish = (code) => {
        if (done) return;
        done = true;
        unwatch();
        ctx.signal.removeEventListener('abort', onAbort);
        this.closeDetail();
        this.view.destroy();
        streams.close();
        resolve(code);
      };
      this.bindKeys();
      this.view.render(this.model, false);
      feed.snapshot().then(
        (s) => this.onSnapshot(s),
        (err: Error) => this.view.message(`cannot read the host's state: ${err.message}`),
      );
    });
  }

  private async onSnapshot(s: Snapshot): Promise<void> {
    const names = s.apps.map((a) => a.name).join(',');
    if (names !== this.knownApps || this.snapshots++ % STANDINGS_EVERY === 0) {
      this.knownApps = names;
      this.model.setVisible(await standingsOf(this.ctx).catch(() => new Map()));
    }
    this.model.update(s);
    this.view.render(this.model, this.detailApp !== undefined);
  }

  private bindKeys(): void {
    const screen = this.view.screen;
    // Keys are ignored while a prompt or picker has them.
    const on = (keys: string[], handler: () => void | Promise<void>): void => {
      screen.key(keys, () => {
        if (this.modal) return;
        void Promise.resolve(handler()).catch((err: Error) => this.view.message(`error: ${err.message}`));
      });
    };
    on(['q', 'C-c'], () => this.finish(EXIT.OK));
    on(['up', 'k'], () => this.moveSelection(-1));
    on(['down', 'j'], () => this.moveSelection(1));
    on(['enter'], () => this.openDetail(false));
    on(['l'], () => this.openDetail(true));
    on(['escape', 'backspace', 'left'], () => this.back());
    on(['?'], () => void this.view.toggleHelp());
    on(['/'], () => this.modally(async () => {
      // Starts empty: what is typed replaces the filter (esc on the table clears it).
      const text = await this.view.ask('Show the apps whose name contains:');
      if (text !== undefined) this.model.filter = text.trim();
      this.view.render(this.model, this.detailApp !== undefined);
    }));
    on(['r'], () => this.withApp('restart', (app) => this.perform(['ps:restart', app.name], `restarting ${app.name}…`)));
    on(['s'], () => this.withApp('scale', (app) => this.scale(app)));
    on(['b'], () => this.withApp('rollback', (app) => this.rollback(app)));
    on(['z'], () => this.withApp('autosleep', (app) => this.perform(['ps:autosleep', app.name, app.autosleepSeconds > 0 ? 'off' : 'default'], `autosleep of ${app.name}…`)));
  }

  private moveSelection(delta: number): void {
    if (this.detailApp) return;
    this.model.move(delta);
    this.view.render(this.model, false);
  }

  /** The selected app, when the viewer's role allows ACTION on it (else says which role it needs). */
  private async withApp(action: Action, fn: (app: AppSnapshot) => Promise<void>): Promise<void> {
    const app = this.detailApp ? this.model.rows().find((r) => r.name === this.detailApp) : this.model.selected();
    if (!app) return;
    if (!mayDo(this.model.standingOn(app.name), action)) {
      this.view.message(`${action} needs the ${ACTION_ROLE[action]} role (or owner) on ${app.name}`);
      return;
    }
    await this.modally(() => fn(app));
  }

  private async modally(fn: () => Promise<void>): Promise<void> {
    this.modal = true;
    try {
      await fn();
    } finally {
      this.modal = false;
    }
  }

  private async perform(argv: string[], doing: string): Promise<void> {
    this.view.message(doing);
    const result = await this.act(argv);
    this.view.message(result.message);
  }

  private async scale(app: AppSnapshot): Promise<void> {
    const current = app.processes.map((p) => `${p.type}=${p.desired}`).join(' ');
    // The current formation in the question, not as input: what is typed is the whole answer.
    const text = await this.view.ask(`Scale ${app.name} (now ${current || 'no processes'}), TYPE=COUNT ...:`);
    const parts = text?.trim().split(/\s+/).filter(Boolean) ?? [];
    if (parts.length === 0) return this.view.message('scale: cancelled');
    await this.perform(['ps:scale', app.name, ...parts], `scaling ${app.name}…`);
  }

  private async rollback(app: AppSnapshot): Promise<void> {
    const releases = (await this.ctx.host.dashboardFeed().detail(app.name)).releases.filter((r) => !r.live);
    if (releases.length === 0) return this.view.message(`${app.name} has no earlier release to roll back to`);
    const index = await this.view.pick(`roll ${app.name} back to`, releases.map((r) => `v${r.version}  ${r.description}`));
    const target = index === undefined ? undefined : releases[index];
    if (!target) return this.view.message('rollback: cancelled');
    if (!(await this.view.confirm(`Roll ${app.name} back to v${target.version}? (y/n)`))) return this.view.message('rollback: cancelled');
    await this.perform(['rollback', app.name, `v${target.version}`], `rolling ${app.name} back to v${target.version}…`);
  }

  /** The selected app's detail, refreshed while open, with its logs following. */
  private openDetail(logsOnly: boolean): void {
    const app = this.model.selected();
    if (!app) return;
    this.closeDetail();
    this.detailApp = app.name;
    this.view.setLogsFull(logsOnly);
    this.view.render(this.model, true);
    const refresh = async (): Promise<void> => {
      const detail = await this.ctx.host.dashboardFeed().detail(app.name);
      if (this.detailApp === app.name) this.view.showDetail(detail);
    };
    const tick = (): void => {
      void refresh()
        .catch((err: Error) => this.view.message(`${app.name}: ${err.message}`))
        .finally(() => {
          if (this.detailApp === app.name) this.detailTimer = setTimeout(tick, DETAIL_REFRESH_MS);
        });
    };
    tick();
    void this.followLogs(app.name);
  }

  private async followLogs(name: string): Promise<void> {
    const abort = new AbortController();
    this.logsAbort = abort;
    this.view.clearLogs(`${name}: logs`);
    try {
      const app: App = await this.ctx.store.apps.get(name);
      for await (const line of this.ctx.host.logs(app, { follow: true, lines: 100, signal: abort.signal })) {
        if (abort.signal.aborted) break;
        this.view.logLine(`${line.source} ${line.text}`);
      }
    } catch (err) {
      if (!abort.signal.aborted) this.view.logLine(`(logs: ${(err as Error).message})`);
    }
  }

  /** esc: out of the open app, else the filter cleared. */
  private back(): void {
    if (this.detailApp !== undefined || !this.model.filter) return this.closeDetail();
    this.model.filter = '';
    this.view.render(this.model, false);
  }

  private closeDetail(): void {
    clearTimeout(this.detailTimer);
    this.detailTimer = undefined;
    this.logsAbort?.abort();
    this.logsAbort = undefined;
    if (this.detailApp === undefined) return;
    this.detailApp = undefined;
    this.view.render(this.model, false);
  }
}
