// Git's smart HTTP protocol: HTTP Basic with an API token as the password,
// the same access rules as SSH, then `git http-backend` (CGI) does the work.
// Only paths we build from a checked app name reach it.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatForTerminal, ShipoffError, type Store, type User } from '../core/index.js';
import { authorize } from './access.js';
import { appFromRepoPath, type GitService } from './command-line.js';
import { cleanEnv, exited, hooksEnv, killGroup, spawnGroup } from './git-process.js';
import type { HookServer } from './hook-server.js';
import type { RepoStore } from './repos.js';

export interface HttpGitDeps {
  store: Store;
  repos: RepoStore;
  hooks: HookServer;
  running: Set<ChildProcessWithoutNullStreams>;
  log: (line: string) => void;
}

const ROUTE = /^\/([^/]+)\/(info\/refs|git-upload-pack|git-receive-pack)$/;
const SERVICES: readonly string[] = ['git-upload-pack', 'git-receive-pack'];
const HEADER_TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~=:,;/ -]{1,200}$/;
const MAX_CGI_HEADER_BYTES = 64 * 1024;
/** An app made by "info/refs?service=git-receive-pack" is a push's first request; the POST after it is the push. */
const CREATED_MEMORY_MS = 10 * 60_000;

export class HttpGit {
  /** "userId/app" → until when the next push of theirs is the one that created the app. */
  private readonly justCreated = new Map<string, number>();

  constructor(private readonly deps: HttpGitDeps) {}

  handle(req: IncomingMessage, res: ServerResponse): void {
    this.serve(req, res).catch((err: unknown) => this.fail(res, err));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://git.invalid');
    const route = ROUTE.exec(url.pathname);
    if (!route) throw new ShipoffError('SHIPOFF_BAD_GIT_REQUEST', { reason: `${url.pathname.slice(0, 100)} is not a git URL here; use http://git.DOMAIN:PORT/APP.git` });
    let rawName: string;
    try {
      rawName = decodeURIComponent(route[1]!);
    } catch {
      throw new ShipoffError('SHIPOFF_BAD_GIT_REQUEST', { reason: 'the repository name is not valid URL encoding' });
    }
    const app = appFromRepoPath(rawName);
    const endpoint = route[2]!;
    let service: GitService;
    if (endpoint === 'info/refs') {
      const wanted = url.searchParams.get('service') ?? '';
      if (!SERVICES.includes(wanted)) throw new ShipoffError('SHIPOFF_BAD_GIT_REQUEST', { reason: 'only git’s smart HTTP protocol is served (info/refs?service=git-upload-pack or git-receive-pack)' });
      if (req.method !== 'GET') throw new ShipoffError('SHIPOFF_BAD_GIT_REQUEST', { reason: `${endpoint} takes GET` });
      service = wanted as GitService;
    } else {
      if (req.method !== 'POST') throw new ShipoffError('SHIPOFF_BAD_GIT_REQUEST', { reason: `${endpoint} takes POST` });
      service = endpoint as GitService;
    }
    const user = await this.authenticate(req);
    const discovery = endpoint === 'info/refs';
    const access = await authorize(this.deps.store, user, service, app, { mayCreate: discovery });
    const repo = await this.deps.repos.ensure(access.app.name);
    const key = `${user.id}/${access.app.name}`;
    let created = false;
    if (access.created) {
      this.deps.log(`gitd: ${user.name} created app ${access.app.name} by pushing to it over HTTP`);
      this.justCreated.set(key, Date.now() + CREATED_MEMORY_MS);
    } else if (!discovery && service === 'git-receive-pack') {
      created = (this.justCreated.get(key) ?? 0) > Date.now();
      this.justCreated.delete(key);
    }
    const ticket = !discovery && service === 'git-receive-pack' ? this.deps.hooks.ticket(access.app, user, repo, created) : undefined;
    const env: Record<string, string> = {
      ...cleanEnv(),
      ...hooksEnv(repo),
      GIT_PROJECT_ROOT: this.deps.repos.root,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: `/${access.app.name}.git/${endpoint}`,
      QUERY_STRING: discovery ? `service=${service}` : '',
      REQUEST_METHOD: req.method ?? 'GET',
      CONTENT_TYPE: headerValue(req, 'content-type'),
      REMOTE_USER: user.name,
      REMOTE_ADDR: req.socket.remoteAddress ?? '',
      ...ticket?.env,
    };
    const length = headerValue(req, 'content-length');
    if (/^\d{1,15}$/.test(length)) env.CONTENT_LENGTH = length;
    // http-backend inflates gzip request bodies itself when told the encoding.
    const encoding = headerValue(req, 'content-encoding');
    if (encoding) env.HTTP_CONTENT_ENCODING = encoding;
    const protocol = headerValue(req, 'git-protocol');
    if (protocol) env.HTTP_GIT_PROTOCOL = protocol;
    await this.runCgi(req, res, env, () => ticket?.abort()).finally(() => ticket?.close());
    if (ticket) this.deps.log(`gitd: push to ${access.app.name} by ${user.name} over HTTP ended`);
  }

  private async authenticate(req: IncomingMessage): Promise<User> {
    const header = req.headers.authorization ?? '';
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (!basic) throw new ShipoffError('SHIPOFF_HTTP_AUTH', { reason: 'authentication required' });
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const name = colon < 0 ? decoded : decoded.slice(0, colon);
    const password = colon < 0 ? '' : decoded.slice(colon + 1);
    // The user name may be anything: the token alone says who it is. A token given as the user name works too.
    const token = password || name;
    const user = token ? await this.deps.store.users.userForToken(token) : undefined;
    if (!user) throw new ShipoffError('SHIPOFF_HTTP_AUTH', { reason: 'that token is not valid' });
    return user;
  }

  /** Runs http-backend with the request body as stdin; its CGI headers become the response's. */
  private runCgi(req: IncomingMessage, res: ServerResponse, env: Record<string, string>, onAbort: () => void): Promise<void> {
    const { running, log } = this.deps;
    const child = spawnGroup('git', ['http-backend'], env);
    running.add(child);
    req.pipe(child.stdin);
    child.stdin.on('error', () => {});
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 8192) stderr += chunk.toString('utf8');
    });
    // The client hung up (Ctrl-C, lost connection) before the response ended: stop git, cancel the deploy.
    res.on('close', () => {
      if (!res.writableFinished) {
        onAbort();
        killGroup(child);
      }
    });
    let head = Buffer.alloc(0);
    let headersDone = false;
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = headerEnd(head);
      if (end === undefined) {
        if (head.length > MAX_CGI_HEADER_BYTES) killGroup(child);
        return;
      }
      headersDone = true;
      child.stdout.off('data', onData);
      const { status, headers } = parseCgiHeaders(head.subarray(0, end.at).toString('latin1'));
      res.writeHead(status, headers);
      const rest = head.subarray(end.at + end.length);
      if (rest.length > 0) res.write(rest);
      child.stdout.pipe(res);
    };
    child.stdout.on('data', onData);
    return exited(child).then((code) => {
      running.delete(child);
      if (stderr.trim() && code !== 0) log(`gitd: git http-backend exited with ${code}: ${stderr.trim().slice(0, 500)}`);
      if (!headersDone && !res.headersSent) {
        throw new Error(`git http-backend exited with ${code} before answering: ${stderr.trim().slice(0, 500)}`);
      }
      if (!res.writableEnded) res.end();
    });
  }

  private fail(res: ServerResponse, err: unknown): void {
    if (!(err instanceof ShipoffError)) this.deps.log(`gitd: HTTP request failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const status = err instanceof ShipoffError ? err.httpStatus : 500;
    const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' };
    if (status === 401) headers['www-authenticate'] = 'Basic realm="shipoff"';
    res.writeHead(status, headers).end(formatForTerminal(err) + '\n');
  }
}

function headerValue(req: IncomingMessage, name: string): string {
  const value = req.headers[name];
  const text = Array.isArray(value) ? value[0] ?? '' : value ?? '';
  return HEADER_TOKEN.test(text) ? text : '';
}

function headerEnd(buffer: Buffer): { at: number; length: number } | undefined {
  const crlf = buffer.indexOf('\r\n\r\n');
  const lf = buffer.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { at: crlf, length: 4 };
  if (lf >= 0) return { at: lf, length: 2 };
  return undefined;
}

export function parseCgiHeaders(text: string): { status: number; headers: Record<string, string> } {
  let status = 200;
  const headers: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'status') {
      const code = Number.parseInt(value, 10);
      if (code >= 100 && code <= 599) status = code;
    } else {
      headers[name] = value;
    }
  }
  return { status, headers };
}
