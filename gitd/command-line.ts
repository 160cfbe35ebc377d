// Reads the command line an SSH client sends ("git-receive-pack '/app.git'")
// the way a POSIX shell would split it, without ever running a shell: the
// words are only compared and the app name checked against the name rule.
import { assertAppName, ShipoffError } from '../core/index.js';

export type GitService = 'git-receive-pack' | 'git-upload-pack';

export interface GitRequest {
  service: GitService;
  app: string;
}

const MAX_COMMAND_LENGTH = 4096;

/** Splits on blanks, honouring '…', "…" and backslash escapes as sh does. */
export function splitCommandLine(line: string): string[] {
  if (line.length > MAX_COMMAND_LENGTH) throw new ShipoffError('SHIPOFF_BAD_GIT_REQUEST', { reason: 'the command line is too long' });
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === ' ' || c === '\t' || c === '\n') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw unterminated();
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let text = '';
      for (i++; ; i++) {
        if (i >= line.length) throw unterminated();
        const d = line[i]!;
        if (d === '"') break;
        // Inside double quotes a backslash escapes only these, as in sh.
        if (d === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) text += line[++i];
        else text += d;
      }
      word = (word ?? '') + text;
    } else if (c === '\\') {
      if (i + 1 < line.length) word = (word ?? '') + line[++i];
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

function unterminated(): ShipoffError {
  return new ShipoffError('SHIPOFF_BAD_GIT_REQUEST', { reason: 'the command line has an unterminated quote' });
}

/**
 * The app a repository path names: "/foo.git", "foo.git", "foo", "/foo/"
 * all name foo. Anything else fails the app name rule, so "../x" or "a/b"
 * never reach the file system.
 */
export function appFromRepoPath(repoPath: string): string {
  let name = repoPath;
  if (name.startsWith('/')) name = name.slice(1);
  if (name.endsWith('/')) name = name.slice(0, -1);
  if (name.endsWith('.git')) name = name.slice(0, -'.git'.length);
  return assertAppName(name);
}

/** The git request in argv, or undefined when argv is some other command. */
export function gitRequestOf(argv: readonly string[]): GitRequest | undefined {
  let service: string | undefined;
  let rest: readonly string[];
  if (argv[0] === 'git' && (argv[1] === 'receive-pack' || argv[1] === 'upload-pack')) {
    service = `git-${argv[1]}`;
    rest = argv.slice(2);
  } else if (argv[0] === 'git-receive-pack' || argv[0] === 'git-upload-pack') {
    service = argv[0];
    rest = argv.slice(1);
  } else {
    return undefined;
  }
  if (rest.length !== 1) {
    throw new ShipoffError('SHIPOFF_BAD_GIT_REQUEST', { reason: `${service} takes exactly one argument, the repository (APP.git)` });
  }
  return { service: service as GitService, app: appFromRepoPath(rest[0]!) };
}
