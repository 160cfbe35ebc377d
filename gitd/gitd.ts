// The git daemon: SSH and smart HTTP in front of the real git programs, and
// the socket their pre-receive hooks report to. This module only wires the
// pieces together and owns their lifecycle.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { HookServer } from './hook-server.js';
import { loadOrCreateHostKey } from './host-key.js';
import { HttpGit } from './http-backend.js';
import { killGroup } from './git-process.js';
import { RepoStore } from './repos.js';
import { SshServer } from './ssh-server.js';
import type { Gitd, GitdOptions } from './types.js';

export function createGitd(options: GitdOptions): Gitd {
  const { store, dataDir, log } = options;
  const repos = new RepoStore(dataDir);
  const hooks = new HookServer(dataDir, options.onPush, log);
  /** Every git process in flight, SSH or HTTP, so close() can stop them. */
  const running = new Set<ChildProcessWithoutNullStreams>();
  const http = new HttpGit({ store, repos, hooks, running, log });
  let ssh: SshServer | undefined;
  let closed = false;

  return {
    async listen() {
      if (closed) throw new Error('this git daemon was closed; create another');
      const hostKey = await loadOrCreateHostKey(dataDir);
      repos.refreshHooks();
      await hooks.listen();
      ssh = new SshServer({ store, hostKey, repos, hooks, running, onCommand: options.onCommand, log });
      try {
        return { port: await ssh.listen(options.sshPort, options.sshHost ?? '0.0.0.0') };
      } catch (err) {
        await hooks.close();
        ssh = undefined;
        throw err;
      }
    },

    handleHttp(req, res) {
      if (closed) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end(' !     the git daemon is shutting down\n');
        return;
      }
      http.handle(req, res);
    },

    async close() {
      if (closed) return;
      closed = true;
      const stopping = ssh?.close();
      // Aborting the pushes first lets their handlers wind down while git is stopped.
      await hooks.close();
      for (const child of running) killGroup(child);
      await stopping;
    },

    repoPath: (app) => repos.pathOf(app),
  };
}
