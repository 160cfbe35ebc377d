// The blessed layout: host bar, apps table, sparklines, message line and key
// footer; an app's detail (formation and instances, releases, build output,
// live logs) over the table; help, prompts and pickers on top. It only shows
// what model.ts computed and asks what the controller wants asked.
import blessed from 'blessed';
import type { AppDetail } from './feed.js';
import { type DashboardModel, fit, formatBytes, KEYS } from './model.js';
import type { TerminalStreams } from './terminal-io.js';

const esc = (text: string): string => blessed.escape(text);

type BlessedStatics = { _sigintHandler?: () => void; _sigtermHandler?: () => void; _sigquitHandler?: () => void; _exceptionHandler?: (err: Error) => void };

export class DashboardScreen {
  readonly screen: blessed.Widgets.Screen;
  private readonly hostBar: blessed.Widgets.BoxElement;
  private readonly table: blessed.Widgets.BoxElement;
  private readonly sparks: blessed.Widgets.BoxElement;
  private readonly messageLine: blessed.Widgets.BoxElement;
  private readonly footer: blessed.Widgets.BoxElement;
  private readonly detailBox: blessed.Widgets.BoxElement;
  private readonly info: blessed.Widgets.BoxElement;
  private readonly releases: blessed.Widgets.BoxElement;
  private readonly build: blessed.Widgets.BoxElement;
  private readonly logs: blessed.Widgets.Log;
  private readonly help: blessed.Widgets.BoxElement;

  constructor(streams: TerminalStreams, term: string) {
    this.screen = blessed.screen({ input: streams.input, output: streams.output as unknown as NodeJS.WritableStream, terminal: term, smartCSR: true, forceUnicode: true, warnings: false, title: 'shipoff dashboard' } as unknown as blessed.Widgets.IScreenOptions);
    leaveProcessSignalsAlone();
    // Borders in UTF-8 rather than the terminal's alternate character set, which not every path (tmux, some ssh clients) carries.
    (this.screen as unknown as { program: { tput: { brokenACS: boolean } } }).program.tput.brokenACS = true;
    const s = this.screen;
    this.hostBar = blessed.box({ parent: s, top: 0, left: 0, width: '100%', height: 1, style: { inverse: true } });
    this.table = blessed.box({ parent: s, top: 1, left: 0, width: '100%', height: '100%-7', tags: true });
    // Two sparklines inside a border: four lines.
    this.sparks = blessed.box({ parent: s, bottom: 2, left: 0, width: '100%', height: 4, border: { type: 'line' }, label: ' traffic ' });
    this.messageLine = blessed.box({ parent: s, bottom: 1, left: 0, width: '100%', height: 1 });
    this.footer = blessed.box({ parent: s, bottom: 0, left: 0, width: '100%', height: 1, style: { inverse: true } });
    this.detailBox = blessed.box({ parent: s, top: 1, left: 0, width: '100%', height: '100%-3', hidden: true });
    const pane = (options: blessed.Widgets.BoxOptions): blessed.Widgets.BoxElement =>
      blessed.box({ parent: this.detailBox, border: { type: 'line' }, scrollable: true, alwaysScroll: true, tags: false, ...options });
    this.info = pane({ top: 0, left: 0, width: '50%', height: '50%', label: ' formation and instances ' });
    this.releases = pane({ top: '50%', left: 0, width: '50%', height: '50%', label: ' releases ' });
    this.build = pane({ top: 0, left: '50%', width: '50%', height: '50%', label: ' build output ' });
    this.logs = blessed.log({ parent: this.detailBox, top: '50%', left: '50%', width: '50%', height: '50%', border: { type: 'line' }, label: ' logs ', scrollback: 500 } as blessed.Widgets.LogOptions);
    this.help = blessed.box({
      parent: s,
      top: 'center',
      left: 'center',
      width: 50,
      height: KEYS.length + 4,
      border: { type: 'line' },
      label: ' keys ',
      hidden: true,
      content: KEYS.map((k) => ` ${k.key.padEnd(7)}${k.what}`).join('\n') + '\n esc    back to the apps, or clear the filter',
    });
  }

  /** The table view, from the model. */
  render(model: DashboardModel, detailOpen: boolean): void {
    const width = Number(this.screen.width);
    this.hostBar.setContent(fit(model.hostBar(), width));
    const { header, lines, selectedIndex } = model.table(width);
    const body = lines.map((l, i) => (i === selectedIndex ? `{inverse}${esc(l)}{/inverse}` : esc(l)));
    this.table.setContent([`{bold}${esc(header)}{/bold}`, ...(body.length ? body : [model.filter ? `no app matches "${esc(model.filter)}"` : 'no apps you may see yet'])].join('\n'));
    const sparks = model.sparklines(width - 2);
    this.sparks.setLabel(sparks.label);
    this.sparks.setContent(sparks.lines.join('\n'));
    this.footer.setContent(fit(model.footer() + (model.filter ? `   filter: ${model.filter}` : ''), width));
    this.detailBox.hidden = !detailOpen;
    this.screen.render();
  }

  showDetail(d: AppDetail): void {
    const formation = Object.entries(d.formation).map(([t, n]) => `${t}=${n}`).join(' ') || '-';
    const instances = d.instances.map(
      (i) => `${i.name.padEnd(10)} v${String(i.release).padEnd(4)} ${i.state.padEnd(8)} ${i.cpuPercent === undefined ? '' : `cpu ${i.cpuPercent.toFixed(1)}%`.padEnd(11)}${i.memoryBytes === undefined ? '' : `mem ${formatBytes(i.memoryBytes)}`}`,
    );
    this.info.setLabel(` ${d.name}: formation and instances `);
    this.info.setContent([`formation: ${formation}`, '', ...(instances.length ? instances : ['no instances'])].join('\n'));
    this.releases.setContent(d.releases.map((r) => `${r.live ? '*' : ' '} v${String(r.version).padEnd(4)} ${r.createdAt.toISOString().slice(0, 16).replace('T', ' ')}  ${r.description}`).join('\n') || 'no releases');
    this.build.setLabel(d.build ? ` build: deploy #${d.build.id} ${d.build.state} ` : ' build output ');
    this.build.setContent(d.build?.output.trimEnd() ?? 'no deploy yet');
    this.build.setScrollPerc(100);
    this.screen.render();
  }

  clearLogs(label: string): void {
    this.logs.setContent('');
    this.logs.setLabel(` ${label} `);
  }

  logLine(line: string): void {
    this.logs.log(line);
    this.renderSoon();
  }

  /** `l`: the logs take the whole detail area; enter: a quarter of it. */
  setLogsFull(full: boolean): void {
    Object.assign(this.logs.position, full ? { top: 0, left: 0, width: '100%', height: '100%' } : { top: '50%', left: '50%', width: '50%', height: '50%' });
    for (const pane of [this.info, this.releases, this.build]) pane.hidden = full;
  }

  /** A burst of log lines makes one render. */
  private renderTimer: NodeJS.Timeout | undefined;
  private renderSoon(): void {
    this.renderTimer ??= setTimeout(() => {
      this.renderTimer = undefined;
      if (!this.destroyed) this.screen.render();
    }, 50);
  }
  private destroyed = false;

  message(text: string): void {
    this.messageLine.setContent(fit(text, Number(this.screen.width)));
    this.screen.render();
  }

  toggleHelp(): boolean {
    this.help.hidden = !this.help.hidden;
    if (!this.help.hidden) this.help.setFront();
    this.screen.render();
    return !this.help.hidden;
  }

  /** A line of input; undefined when cancelled (esc). */
  ask(question: string, initial = ''): Promise<string | undefined> {
    const prompt = blessed.prompt({ parent: this.screen, top: 'center', left: 'center', width: 60, height: 8, border: { type: 'line' }, label: ' shipoff ', keys: true, tags: false });
    return new Promise((resolve) =>
      prompt.input(question, initial, (err, value) => {
        prompt.destroy();
        this.screen.render();
        resolve(err || value === null || value === undefined ? undefined : String(value));
      }),
    );
  }

  confirm(question: string): Promise<boolean> {
    const q = blessed.question({ parent: this.screen, top: 'center', left: 'center', width: 60, height: 7, border: { type: 'line' }, label: ' confirm ', keys: true });
    return new Promise((resolve) =>
      q.ask(question, (err, yes) => {
        q.destroy();
        this.screen.render();
        resolve(!err && Boolean(yes));
      }),
    );
  }

  /** One of ITEMS (its index); undefined when cancelled. */
  pick(title: string, items: string[]): Promise<number | undefined> {
    const list = blessed.list({
      parent: this.screen,
      top: 'center',
      left: 'center',
      width: 60,
      height: Math.min(items.length + 2, 14),
      border: { type: 'line' },
      label: ` ${title} `,
      items,
      keys: true,
      style: { selected: { inverse: true } },
    });
    list.focus();
    this.screen.render();
    return new Promise((resolve) => {
      const done = (index: number | undefined): void => {
        list.destroy();
        this.screen.render();
        resolve(index);
      };
      list.once('select', (_item, index) => done(index));
      list.key(['escape'], () => done(undefined));
    });
  }

  destroy(): void {
    this.destroyed = true;
    clearTimeout(this.renderTimer);
    this.screen.destroy();
  }
}

/**
 * blessed installs process-wide handlers that exit the process on SIGINT,
 * SIGTERM, SIGQUIT and uncaught exceptions when nothing else listens: fine for
 * a terminal program, not inside the host, which decides that for itself.
 */
function leaveProcessSignalsAlone(): void {
  const statics = blessed.screen as unknown as BlessedStatics;
  if (statics._sigintHandler) process.off('SIGINT', statics._sigintHandler);
  if (statics._sigtermHandler) process.off('SIGTERM', statics._sigtermHandler);
  if (statics._sigquitHandler) process.off('SIGQUIT', statics._sigquitHandler);
  if (statics._exceptionHandler) process.off('uncaughtException', statics._exceptionHandler);
}
