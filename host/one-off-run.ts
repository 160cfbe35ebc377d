// `shipoff run APP CMD...`: a one-off container from the app's live release,
// with that release's config (as Heroku's run dynos), the release's own
// launch environment, and the caller's terminal when it asked for one.
import { randomInt } from 'node:crypto';
import type { HostOps } from '../admin/index.js';
import { oneOffArgv } from '../buildpacks/index.js';
import { ShipoffError, type Store } from '../core/index.js';
import type { DockerRuntime } from '../runtimes/index.js';

export interface OneOffRunDeps {
  store: Store;
  runtime: DockerRuntime;
}

/** A terminal type is passed on as TERM; anything odd becomes a safe default. */
const TERM_NAME = /^[A-Za-z0-9._+-]{1,64}$/;

export function oneOffRun(deps: OneOffRunDeps): HostOps['run'] {
  return async (app, argv, io) => {
    const release = await deps.store.deploys.liveRelease(app.id);
    if (!release) throw new ShipoffError('SHIPOFF_NO_RELEASE', { app: app.name });
    // Heroku's run.N: a number that tells concurrent runs apart, not a count.
    const index = randomInt(1000, 10000);
    const { terminal } = io;
    const env: Record<string, string> = { ...release.config, SHIPOFF_APP: app.name, SHIPOFF_RELEASE: `v${release.version}`, DYNO: `run.${index}` };
    if (terminal) env.TERM = TERM_NAME.test(terminal.term) ? terminal.term : 'xterm';
    return deps.runtime.runOneOff(
      {
        app: app.name,
        release: release.version,
        processType: 'run',
        index,
        image: release.image,
        command: oneOffArgv(argv, release.builder),
        env,
        ...(terminal ? { tty: { cols: terminal.cols, rows: terminal.rows } } : {}),
      },
      {
        stdin: io.stdin,
        stdout: io.stdout,
        stderr: io.stderr,
        signal: io.signal,
        ...(terminal ? { onResize: (listener) => terminal.onResize(listener) } : {}),
      },
    );
  };
}
