// The git daemon's public entry: SSH and smart HTTP git hosting whose pushes
// are handed, while still open, to a PushHandler.
export { createGitd } from './gitd.js';
export type { Gitd, GitdOptions, PushHandler, PushRequest, RefUpdate, SshCommand, SshCommandHandler, SshTerminal } from './types.js';
