// A deploy's (or an admin operation's) progress lines: to whoever waits for
// them at once, to the deploy's stored log in batches, config values masked.
import type { Store } from '../core/index.js';

/** Sends deploy output to the pusher at once and to the deploy's stored log in batches. */
export class DeployOutput {
  private deployId: number | undefined;
  private pending: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly send: (line: string) => void,
    private readonly store: Store | undefined,
    private readonly log: (line: string) => void,
  ) {}

  private secrets: string[] = [];

  attach(deployId: number): void {
    this.deployId = deployId;
  }

  /** Config values never reach the pusher or the stored log: a build that
   * echoes one shows ******** instead. Short values (flags, ports) would
   * mask ordinary words, so only those of 6 characters or more. */
  hide(values: string[]): void {
    this.secrets = [...new Set([...this.secrets, ...values.filter((v) => v.length >= 6)])].sort((a, b) => b.length - a.length);
  }

  line(raw: string): void {
    let text = raw;
    for (const secret of this.secrets) text = text.split(secret).join('********');
    for (const l of text.split('\n')) {
      try {
        this.send(l);
      } catch {
        // the pusher is gone; the stored log still gets the line
      }
      this.pending.push(l);
    }
    if (!this.timer) this.timer = setTimeout(() => void this.flush(), 1_000);
  }

  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.store || this.deployId === undefined || this.pending.length === 0) return this.writing;
    const text = this.pending.join('\n') + '\n';
    this.pending = [];
    const id = this.deployId;
    const store = this.store;
    this.writing = this.writing.then(() => store.deploys.appendLog(id, text)).catch((err: Error) => this.log(` !     saving the log of deploy #${id}: ${err.message}`));
    return this.writing;
  }
}
