// One catalogue of every error a user can see. Each has a stable code to search
// for, a message template, the process exit status a CLI command ends with,
// and the HTTP status a web-facing part answers with.
//
// Exit statuses follow sysexits(3) so scripts can tell kinds of failure apart.

export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 64, // EX_USAGE: bad command line
  DATA: 65, // EX_DATAERR: bad input data
  NO_INPUT: 66, // EX_NOINPUT: a thing named does not exist
  UNAVAILABLE: 69, // EX_UNAVAILABLE: a service we need is not there
  SOFTWARE: 70, // EX_SOFTWARE: a bug on our side
  CANT_CREATE: 73, // EX_CANTCREAT
  TEMP_FAIL: 75, // EX_TEMPFAIL: try again later
  NO_PERM: 77, // EX_NOPERM
  CONFIG: 78, // EX_CONFIG: bad configuration
} as const;

interface ErrorSpec {
  message: (details: Record<string, string>) => string;
  exit: number;
  http: number;
}

function spec(exit: number, http: number, message: ErrorSpec['message']): ErrorSpec {
  return { exit, http, message };
}

export const ERRORS = {
  // configuration and start-up
  SHIPOFF_BAD_ENV: spec(EXIT.CONFIG, 500, (d) => `${d.name} ${d.rule}, got ${JSON.stringify(d.value)}`),
  SHIPOFF_DATA_DIR: spec(EXIT.CANT_CREATE, 500, (d) => `cannot use data directory ${d.path}: ${d.reason}`),
  SHIPOFF_MASTER_KEY: spec(EXIT.CONFIG, 500, (d) => `master key ${d.path} ${d.reason}`),
  SHIPOFF_NODE_VERSION: spec(EXIT.UNAVAILABLE, 500, (d) => `Node.js ${d.need} or newer is needed, this is ${d.have}`),

  SHIPOFF_PORT_IN_USE: spec(EXIT.UNAVAILABLE, 500, (d) => `port ${d.port} is already in use; stop what listens there or set ${d.variable} to another port`),

  // the store
  SHIPOFF_DB_UNAVAILABLE: spec(EXIT.UNAVAILABLE, 503, (d) => `the database is not reachable (${d.reason})`),
  SHIPOFF_DB_START: spec(EXIT.UNAVAILABLE, 503, (d) => `the embedded PostgreSQL server did not start: ${d.reason}`),
  SHIPOFF_DB_LOCKED: spec(EXIT.TEMP_FAIL, 503, (d) => `the embedded database is busy (${d.reason})`),
  SHIPOFF_MIGRATION: spec(EXIT.SOFTWARE, 500, (d) => `database migration ${d.version} failed: ${d.reason}`),
  SHIPOFF_SECRET_UNREADABLE: spec(EXIT.CONFIG, 500, (d) => `${d.what} cannot be decrypted: the master key in the data directory is not the one it was written with; restore that master.key`),
  SHIPOFF_RELEASE_NOT_FOUND: spec(EXIT.NO_INPUT, 404, (d) => `App ${d.app} has no release ${d.release}`),
  SHIPOFF_SCHEMA_TOO_NEW: spec(EXIT.CONFIG, 500, (d) => `the database schema is at version ${d.have}, newer than this Shipoff knows (${d.know})`),

  // domain rules
  SHIPOFF_INVALID_APP_NAME: spec(EXIT.DATA, 400, (d) => `"${d.name}" is not a valid app name: ${d.rule}`),
  SHIPOFF_INVALID_USER_NAME: spec(EXIT.DATA, 400, (d) => `"${d.name}" is not a valid user name: ${d.rule}`),
  SHIPOFF_INVALID_CONFIG_KEY: spec(EXIT.DATA, 400, (d) => `"${d.key}" is not a valid config key: ${d.rule}`),
  SHIPOFF_INVALID_DOMAIN: spec(EXIT.DATA, 400, (d) => `"${d.domain}" is not a valid domain name`),
  SHIPOFF_INVALID_ROLE: spec(EXIT.DATA, 400, (d) => `"${d.role}" is not a role; use one of ${d.roles}`),
  SHIPOFF_INVALID_PUBLIC_KEY: spec(EXIT.DATA, 400, (d) => `that is not an SSH public key: ${d.reason}`),
  SHIPOFF_INVALID_FORMATION: spec(EXIT.DATA, 400, (d) => `invalid process formation: ${d.reason}`),
  SHIPOFF_ILLEGAL_TRANSITION: spec(EXIT.SOFTWARE, 409, (d) => `deploy ${d.deploy} cannot go from ${d.from} to ${d.to}`),
  SHIPOFF_ALREADY_LIVE: spec(EXIT.TEMP_FAIL, 409, (d) => `app ${d.app} already has a live deploy; another deploy went live at the same moment`),

  // things that exist or don't
  SHIPOFF_APP_NOT_FOUND: spec(EXIT.NO_INPUT, 404, (d) => `App ${d.app} does not exist`),
  SHIPOFF_ADMIN_REQUIRED: spec(EXIT.NO_PERM, 403, (d) => `${d.what} is for host administrators; ask one to run it for you`),
  SHIPOFF_ROLE_REQUIRED: spec(EXIT.NO_PERM, 403, (d) => `this needs the ${d.role} role${d.role === 'owner' ? '' : ' (or owner)'} on ${d.app}; ask its owner`),
  SHIPOFF_APP_EXISTS: spec(EXIT.DATA, 409, (d) => `App ${d.app} already exists`),
  SHIPOFF_USER_NOT_FOUND: spec(EXIT.NO_INPUT, 404, (d) => `User ${d.user} does not exist`),
  SHIPOFF_KEY_EXISTS: spec(EXIT.DATA, 409, (d) => `this key (${d.fingerprint}) is already registered to user ${d.user}`),
  SHIPOFF_KEY_NOT_FOUND: spec(EXIT.NO_INPUT, 404, (d) => `User ${d.user} has no key named ${d.name}`),
  SHIPOFF_DEPLOY_NOT_FOUND: spec(EXIT.NO_INPUT, 404, (d) => `Deploy ${d.deploy} does not exist`),
  SHIPOFF_DOMAIN_TAKEN: spec(EXIT.DATA, 409, (d) => `domain ${d.domain} is already used by app ${d.app}`),
  SHIPOFF_DOMAIN_RESERVED: spec(EXIT.DATA, 409, (d) => `${d.domain} is one of this host's own names (under ${d.hostDomain}); apps answer there already as APP.${d.hostDomain}`),
  SHIPOFF_DOMAIN_NOT_FOUND: spec(EXIT.NO_INPUT, 404, (d) => `App ${d.app} has no domain ${d.domain}; see shipoff domains:list ${d.app}`),
  SHIPOFF_CERT_INVALID: spec(EXIT.DATA, 400, (d) => `that is not a usable certificate and key: ${d.reason}. Give the PEM certificate chain (leaf first) and its unencrypted private key on stdin`),
  SHIPOFF_CERT_KEY_MISMATCH: spec(EXIT.DATA, 400, (d) => `the private key does not belong to the certificate for ${d.subject}; give the key the certificate was issued for`),
  SHIPOFF_CERT_EXPIRED: spec(EXIT.DATA, 400, (d) => `the certificate for ${d.subject} expired on ${d.notAfter}; renew it, then add the new one`),
  SHIPOFF_CERT_NOT_YET_VALID: spec(EXIT.DATA, 400, (d) => `the certificate for ${d.subject} is not valid before ${d.notBefore}`),
  SHIPOFF_CERT_NO_DOMAIN: spec(EXIT.DATA, 400, (d) => `the certificate (for ${d.names}) covers none of ${d.app}'s domains (${d.domains}); add the domain first: shipoff domains:add ${d.app} DOMAIN`),
  SHIPOFF_CERT_NOT_FOUND: spec(EXIT.NO_INPUT, 404, (d) => `App ${d.app} has no certificate; add one with: shipoff certs:add ${d.app} < cert-and-key.pem`),
  SHIPOFF_OWNER_ROLE_FIXED: spec(EXIT.DATA, 409, (d) => `${d.user} owns ${d.app}; the owner's role cannot be ${d.change}`),
  SHIPOFF_OWNER_NOT_GRANTABLE: spec(EXIT.DATA, 400, () => `the owner role cannot be granted: an app has one owner, the user who created it; grant admin instead`),
  SHIPOFF_ACCESS_NOT_FOUND: spec(EXIT.NO_INPUT, 404, (d) => `User ${d.user} has no role on ${d.app}; see shipoff access:list ${d.app}`),

  // the command line
  SHIPOFF_UNKNOWN_COMMAND: spec(EXIT.USAGE, 404, (d) => `${d.command} is not a shipoff command.${d.suggestion ? ` Did you mean ${d.suggestion}?` : ''} See 'shipoff help'`),
  SHIPOFF_USAGE: spec(EXIT.USAGE, 400, (d) => `${d.problem}\nUsage: ${d.usage}`),
  SHIPOFF_HOST_NOT_RUNNING: spec(EXIT.UNAVAILABLE, 503, (d) => `${d.command} acts on the running host, and none answers on this data directory; start it with: shipoff up`),
  SHIPOFF_CONFIRMATION_MISMATCH: spec(EXIT.DATA, 400, (d) => `Confirmation did not match ${d.app}. Aborted.\nTo proceed, type "${d.app}" on standard input, or pass --force`),
  SHIPOFF_NO_STDIN: spec(EXIT.USAGE, 400, (d) => `${d.what} is read from standard input, and none was given. Example: ${d.example}`),
  SHIPOFF_NEEDS_TERMINAL: spec(EXIT.USAGE, 400, (d) => `the ${d.what} needs a terminal: ssh -t -p ${d.port} shipoff@HOST ${d.command} (or run shipoff ${d.command} in a terminal on the host)`),

  // deployer
  SHIPOFF_RELEASE_UNHEALTHY: spec(EXIT.FAILURE, 502, (d) => `${d.instance} of release v${d.release} did not become healthy: ${d.reason}. The previous release keeps serving`),
  SHIPOFF_RELEASE_START: spec(EXIT.FAILURE, 502, (d) => `${d.instance} of release v${d.release} could not be started: ${d.reason}. The previous release keeps serving`),
  SHIPOFF_DEPLOY_CANCELLED: spec(EXIT.TEMP_FAIL, 499, () => `the deploy was cancelled (the push went away); nothing changed`),
  SHIPOFF_PUSH_RACED: spec(EXIT.TEMP_FAIL, 409, (d) => `${d.branch} of ${d.app} moved while this push waited its turn (another push went first); run git pull, then push again`),
  SHIPOFF_NO_RELEASE: spec(EXIT.NO_INPUT, 404, (d) => `App ${d.app} has no release yet; push to it first`),
  SHIPOFF_NO_PROCESS_TYPES: spec(EXIT.DATA, 400, () => `the build produced no process types; add a Procfile with a line like "web: node server.js"`),

  // runtimes
  SHIPOFF_RUNTIME_UNAVAILABLE: spec(EXIT.UNAVAILABLE, 503, (d) => `the container engine is not reachable (${d.reason}); start it (scripts/setup does) and try again`),
  SHIPOFF_RUNTIME_NETWORK_TAKEN: spec(EXIT.CONFIG, 500, (d) => `a Docker network named ${d.network} exists that Shipoff did not create; remove it (docker network rm ${d.network}) or let Shipoff use another name`),
  SHIPOFF_IMAGE_NOT_FOUND: spec(EXIT.NO_INPUT, 500, (d) => `image ${d.image} is not on this host; Shipoff builds its images and never pulls them, so push again to rebuild`),
  SHIPOFF_INSTANCE_START: spec(EXIT.FAILURE, 502, (d) => `${d.instance} could not be started: ${d.reason}`),
  SHIPOFF_INSTANCE_NOT_FOUND: spec(EXIT.NO_INPUT, 404, (d) => `instance ${d.instance} does not exist (it may have stopped)`),
  SHIPOFF_RUN_START: spec(EXIT.UNAVAILABLE, 502, (d) => `the one-off container for ${d.app} could not be started: ${d.reason}`),

  // gitd
  SHIPOFF_NOT_A_GIT_COMMAND: spec(EXIT.USAGE, 400, (d) => `${d.command} is not something this host runs over SSH; push with: git push ssh://shipoff@HOST:PORT/APP.git main`),
  SHIPOFF_SSH_KEY_UNKNOWN: spec(EXIT.NO_PERM, 403, () => `your SSH key is no longer registered; add it again with: shipoff keys:add NAME < KEY.pub`),
  SHIPOFF_SSH_USER: spec(EXIT.NO_PERM, 403, (d) => `log in as "shipoff" (ssh://shipoff@HOST:PORT/APP.git), not as "${d.user}"`),
  SHIPOFF_PUSH_DENIED: spec(EXIT.NO_PERM, 403, (d) => `${d.user} may not push to ${d.app}; pushing needs the developer, admin or owner role on it`),
  SHIPOFF_FETCH_DENIED: spec(EXIT.NO_PERM, 403, (d) => `${d.user} has no access to ${d.app}; ask its owner for a role on it`),
  SHIPOFF_APP_CREATE_DENIED: spec(EXIT.NO_INPUT, 404, (d) => `App ${d.app} does not exist; ask an admin to create it`),
  SHIPOFF_HTTP_AUTH: spec(EXIT.NO_PERM, 401, (d) => `${d.reason}; give your user name and an API token (shipoff tokens:create NAME) as the password`),
  SHIPOFF_BAD_GIT_REQUEST: spec(EXIT.USAGE, 400, (d) => `${d.reason}`),
  SHIPOFF_HOOK_UNAUTHORIZED: spec(EXIT.NO_PERM, 403, (d) => `this push did not come through Shipoff's git daemon (${d.reason}); push over SSH or HTTP`),

  SHIPOFF_CONFIG_NOT_SET: spec(EXIT.NO_INPUT, 404, (d) => `App ${d.app} has no config var ${d.key}; see shipoff config:show ${d.app}`),
  SHIPOFF_APP_GONE: spec(EXIT.NO_INPUT, 404, (d) => `App ${d.app} was renamed or destroyed while this push waited its turn; nothing was built (see shipoff apps:list)`),
  SHIPOFF_NO_WEB: spec(EXIT.TEMP_FAIL, 503, (d) => `App ${d.app} runs no web process (scaled to web=0); start one with: shipoff ps:scale ${d.app} web=1`),
  SHIPOFF_APP_STOPPED: spec(EXIT.TEMP_FAIL, 503, (d) => `App ${d.app} is stopped (shipoff ps:stop); start it with: shipoff ps:start ${d.app}`),

  // router
  SHIPOFF_NO_SUCH_APP: spec(EXIT.NO_INPUT, 404, (d) => `No app answers at ${d.host || 'this address'}`),
  SHIPOFF_APP_NOT_RUNNING: spec(EXIT.TEMP_FAIL, 503, (d) => `App ${d.app} is not running`),
  SHIPOFF_BAD_GATEWAY: spec(EXIT.UNAVAILABLE, 502, (d) => `App ${d.app} did not answer`),
  SHIPOFF_UPSTREAM_TIMEOUT: spec(EXIT.TEMP_FAIL, 504, (d) => `App ${d.app} did not answer within ${d.limit}`),

  // buildpacks
  SHIPOFF_BUILD_FAILED: spec(EXIT.FAILURE, 422, (d) => `the build failed (${d.reason})${d.lastLines ? `; its last lines:\n${d.lastLines}` : ''}`),
  SHIPOFF_NO_BUILDPACK: spec(
    EXIT.DATA,
    422,
    (d) =>
      `no buildpack matched: looked for ${d.lookedFor}, or a Dockerfile; found ${d.found || 'no files'}. ` +
      `Add one of those files, or choose a buildpack: shipoff config:set ${d.app} BUILDPACK_URL=<name or git URL>`,
  ),
  SHIPOFF_BUILDPACK_INVALID: spec(EXIT.DATA, 422, (d) => `${d.source} names ${JSON.stringify(d.ref)}, which is not a buildpack Shipoff can use: ${d.reason}`),
  SHIPOFF_BUILDPACK_FETCH: spec(EXIT.UNAVAILABLE, 502, (d) => `could not fetch the buildpack ${d.ref} (from ${d.source}): ${d.reason}`),
  SHIPOFF_BUILDPACK_NOT_DETECTED: spec(
    EXIT.DATA,
    422,
    (d) => `the buildpack ${d.buildpack} (chosen by ${d.source}) does not detect this app: its bin/detect failed; check that the app has the files it needs, or choose another buildpack`,
  ),
  SHIPOFF_DOCKERFILE_BUILD: spec(EXIT.FAILURE, 422, (d) => `docker build of the Dockerfile failed: ${d.reason}${d.lastLines ? `; its last lines:\n${d.lastLines}` : ''}`),
  SHIPOFF_BUILD_TIMEOUT: spec(EXIT.TEMP_FAIL, 504, (d) => `the build took longer than ${d.limit} and was stopped; if it needs longer: shipoff builds:set ${d.app} timeout SECONDS`),
  SHIPOFF_BUILD_CANCELLED: spec(EXIT.TEMP_FAIL, 499, () => `the build was cancelled`),
  SHIPOFF_UNSAFE_FILE: spec(EXIT.DATA, 422, (d) => `${d.file} is a symbolic link; Shipoff reads it only as a regular file in the repository, so replace the link with the file itself`),
  SHIPOFF_UNSAFE_SYMLINK: spec(
    EXIT.DATA,
    422,
    (d) => `the repository holds a symbolic link that points outside the app (${d.detail}); Shipoff refuses it: make the link point inside the repository, or commit the file itself`,
  ),
  SHIPOFF_STACK_IMAGE_MISSING: spec(EXIT.UNAVAILABLE, 503, (d) => `the stack image ${d.image} is not in the Docker engine; run scripts/setup to build it`),
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** The one error type Shipoff throws on purpose. Anything else is a bug. */
export class ShipoffError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  readonly httpStatus: number;
  readonly details: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, details: Record<string, string> = {}, options?: { cause?: unknown }) {
    const entry = ERRORS[code];
    super(entry.message(details), options);
    this.name = 'ShipoffError';
    this.code = code;
    this.exitCode = entry.exit;
    this.httpStatus = entry.http;
    this.details = details;
  }
}

export function isShipoffError(err: unknown, code?: ErrorCode): err is ShipoffError {
  return err instanceof ShipoffError && (code === undefined || err.code === code);
}

/** Dokku-style one-line rendering for terminals: ` !     message (CODE)`. */
export function formatForTerminal(err: unknown): string {
  if (err instanceof ShipoffError) {
    return err.message
      .split('\n')
      .map((line, i) => (i === 0 ? ` !     ${line} [${err.code}]` : ` !     ${line}`))
      .join('\n');
  }
  const text = err instanceof Error ? err.stack ?? err.message : String(err);
  return ` !     internal error, please report it: ${text}`;
}

export function exitCodeOf(err: unknown): number {
  return err instanceof ShipoffError ? err.exitCode : EXIT.SOFTWARE;
}
