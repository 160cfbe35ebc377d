// The SSH host key: made once with ssh-keygen (ed25519, which ssh2 reads in
// OpenSSH format) and kept, so clients' known_hosts stay valid across restarts.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function loadOrCreateHostKey(dataDir: string): Promise<Buffer> {
  const dir = path.join(dataDir, 'ssh');
  const file = path.join(dir, 'host_key');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Made under a temporary name and renamed, so a crash never leaves half a key.
    const tmp = path.join(dir, `host_key.${process.pid}.tmp`);
    fs.rmSync(tmp, { force: true });
    fs.rmSync(`${tmp}.pub`, { force: true });
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'shipoff-host', '-f', tmp]);
    fs.renameSync(`${tmp}.pub`, `${file}.pub`);
    fs.renameSync(tmp, file);
  }
  fs.chmodSync(file, 0o600);
  return fs.readFileSync(file);
}
