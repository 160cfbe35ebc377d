// Who builds when: one deploy at a time per app (the second push waits its
// turn), and at most N builds at once across apps, so two cores are not
// shared by ten npm installs. Waiters leave the line when their push is
// aborted.

type Waiter = { wake: () => void };

class Line {
  private busy = 0;
  private readonly waiting: Waiter[] = [];
  constructor(private readonly capacity: number) {}

  get full(): boolean {
    return this.busy >= this.capacity;
  }

  get running(): number {
    return this.busy;
  }

  async enter(signal: AbortSignal): Promise<() => void> {
    if (this.busy < this.capacity && this.waiting.length === 0) {
      this.busy++;
      return this.leaver();
    }
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        wake: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal.reason ?? new Error('aborted'));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
    this.busy++;
    return this.leaver();
  }

  private leaver(): () => void {
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.busy--;
      this.waiting.shift()?.wake();
    };
  }
}

export interface SlotNotices {
  /** Called once when the deploy must wait for an earlier deploy of the same app. */
  waitingForApp: () => void;
  /** Called once when every build slot is taken. */
  waitingForSlot: (running: number) => void;
}

export class BuildSlots {
  private readonly perApp = new Map<string, Line>();
  private readonly global: Line;

  constructor(readonly maxConcurrentBuilds: number) {
    this.global = new Line(maxConcurrentBuilds);
  }

  /** Waits for the app's turn; returns a function that gives it up. */
  async appTurn(app: string, signal: AbortSignal, notices: Pick<SlotNotices, 'waitingForApp'>): Promise<() => void> {
    let line = this.perApp.get(app);
    if (!line) this.perApp.set(app, (line = new Line(1)));
    if (line.full) notices.waitingForApp();
    const leave = await line.enter(signal);
    return leave;
  }

  /** Waits for one of the N build slots; returns a function that frees it. */
  async buildSlot(signal: AbortSignal, notices: Pick<SlotNotices, 'waitingForSlot'>): Promise<() => void> {
    if (this.global.full) notices.waitingForSlot(this.global.running);
    return this.global.enter(signal);
  }
}
