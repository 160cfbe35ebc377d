// Versioned schema migrations. A migration, once released, is never edited:
// change the schema by appending a new one.
import { ShipoffError } from '../errors.js';
import type { Db } from './db.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: /* sql */ `
CREATE TABLE users (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL CONSTRAINT users_name_unique UNIQUE CHECK (name ~ '^[a-z][a-z0-9._-]{0,31}$'),
  is_admin    boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ssh_keys (
  id           bigserial PRIMARY KEY,
  user_id      bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  key_type     text NOT NULL,
  public_key   text NOT NULL,
  comment      text NOT NULL DEFAULT '',
  fingerprint  text NOT NULL CONSTRAINT ssh_keys_fingerprint_unique UNIQUE,
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- API tokens for git over HTTP; only a SHA-256 of each token is kept.
CREATE TABLE api_tokens (
  id            bigserial PRIMARY KEY,
  user_id       bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  token_sha256  bytea NOT NULL CONSTRAINT api_tokens_hash_unique UNIQUE,
  description   text NOT NULL DEFAULT '',
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz
);

CREATE TABLE apps (
  id                   bigserial PRIMARY KEY,
  name                 text NOT NULL CONSTRAINT apps_name_unique UNIQUE
                       CHECK (name ~ '^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$'),
  deploy_branch        text NOT NULL DEFAULT 'main',
  -- NULL: never put to sleep
  sleep_after_seconds  integer DEFAULT 900 CHECK (sleep_after_seconds IS NULL OR sleep_after_seconds > 0),
  settings             jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE app_access (
  app_id      bigint NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  user_id     bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role        text NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'viewer')),
  granted_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (app_id, user_id)
);

CREATE TABLE releases (
  id               bigserial PRIMARY KEY,
  app_id           bigint NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  version          integer NOT NULL CHECK (version > 0),
  image            text NOT NULL,
  process_types    jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- AES-256-GCM sealed JSON of the config vars this release runs with
  config_snapshot  bytea NOT NULL,
  source_commit    text,
  description      text NOT NULL DEFAULT '',
  created_by       bigint REFERENCES users(id) ON DELETE SET NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT releases_version_unique UNIQUE (app_id, version)
);

-- Releases are immutable: only the creator reference may fade to NULL.
CREATE FUNCTION releases_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.app_id, NEW.version, NEW.image, NEW.process_types, NEW.config_snapshot, NEW.source_commit, NEW.description, NEW.created_at)
     IS DISTINCT FROM
     (OLD.app_id, OLD.version, OLD.image, OLD.process_types, OLD.config_snapshot, OLD.source_commit, OLD.description, OLD.created_at) THEN
    RAISE EXCEPTION 'release v% of app % is immutable', OLD.version, OLD.app_id USING ERRCODE = 'SH002';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER releases_immutable BEFORE UPDATE ON releases FOR EACH ROW EXECUTE FUNCTION releases_immutable();

CREATE TABLE deploys (
  id           bigserial PRIMARY KEY,
  app_id       bigint NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  state        text NOT NULL DEFAULT 'QUEUED'
               CHECK (state IN ('QUEUED', 'BUILDING', 'RELEASING', 'LIVE', 'SUPERSEDED', 'FAILED', 'CANCELLED')),
  reason       text CHECK (state <> 'FAILED' OR reason IS NOT NULL),
  commit_sha   text CHECK (commit_sha ~ '^[0-9a-f]{40}([0-9a-f]{24})?$'),
  branch       text,
  pushed_by    bigint REFERENCES users(id) ON DELETE SET NULL,
  release_id   bigint REFERENCES releases(id) ON DELETE SET NULL,
  build_log    text NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL DEFAULT now(),
  started_at   timestamptz,
  finished_at  timestamptz,
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deploys_app ON deploys (app_id, id DESC);

-- Exactly one LIVE deploy per app, whatever the code does.
CREATE UNIQUE INDEX deploys_one_live_per_app ON deploys (app_id) WHERE state = 'LIVE';

-- The deploy state machine; mirrors DEPLOY_TRANSITIONS in core/deploy-state.ts
-- (a test checks that the two agree on every pair of states).
CREATE FUNCTION deploys_check_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.state <> 'QUEUED' THEN
      RAISE EXCEPTION 'a deploy starts QUEUED, not %', NEW.state USING ERRCODE = 'SH001';
    END IF;
  ELSIF NEW.state IS DISTINCT FROM OLD.state AND (OLD.state, NEW.state) NOT IN (
      ('QUEUED', 'BUILDING'), ('QUEUED', 'FAILED'), ('QUEUED', 'CANCELLED'),
      ('BUILDING', 'RELEASING'), ('BUILDING', 'FAILED'), ('BUILDING', 'CANCELLED'),
      ('RELEASING', 'LIVE'), ('RELEASING', 'FAILED'), ('RELEASING', 'CANCELLED'),
      ('LIVE', 'SUPERSEDED')) THEN
    RAISE EXCEPTION 'illegal deploy transition % -> %', OLD.state, NEW.state USING ERRCODE = 'SH001';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER deploys_check_transition BEFORE INSERT OR UPDATE OF state ON deploys
  FOR EACH ROW EXECUTE FUNCTION deploys_check_transition();

CREATE TABLE config_vars (
  app_id      bigint NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  key         text NOT NULL CHECK (key ~ '^[A-Za-z_][A-Za-z0-9_]*$'),
  -- AES-256-GCM sealed value, bound to (app, key)
  value       bytea NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (app_id, key)
);

CREATE TABLE domains (
  id          bigserial PRIMARY KEY,
  app_id      bigint NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  hostname    text NOT NULL CONSTRAINT domains_hostname_unique UNIQUE CHECK (hostname = lower(hostname)),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE formations (
  app_id        bigint NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  process_type  text NOT NULL CHECK (process_type ~ '^[a-z][a-z0-9_-]{0,29}$'),
  quantity      integer NOT NULL CHECK (quantity BETWEEN 0 AND 100),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (app_id, process_type)
);

-- Audit events outlive the apps they name, so app_name is text, not a reference.
CREATE TABLE audit_events (
  id        bigserial PRIMARY KEY,
  at        timestamptz NOT NULL DEFAULT now(),
  actor     text NOT NULL,
  app_name  text,
  action    text NOT NULL,
  details   jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_events_app ON audit_events (app_name, id DESC);
`,
  },
  {
    version: 2,
    name: 'releases record how they were built',
    sql: /* sql */ `
-- buildpack: processes run through the buildpacks' launcher (.profile.d, bash);
-- dockerfile: the image's own ENTRYPOINT/CMD, Procfile commands with /bin/sh.
ALTER TABLE releases ADD COLUMN builder text NOT NULL DEFAULT 'buildpack' CHECK (builder IN ('buildpack', 'dockerfile'));
`,
  },
  {
    version: 3,
    name: 'custom domains and certificates',
    sql: /* sql */ `
-- The domains table is there since version 1 (hostname unique and lower case,
-- gone with its app). Custom domains (domains:add) get their syntax checked
-- here too: DNS labels of a-z, 0-9 and -, at least two, at most 253
-- characters, optionally one leading "*." (a wildcard for one label).
ALTER TABLE domains ADD CONSTRAINT domains_hostname_syntax CHECK (
  length(hostname) <= 253
  AND hostname ~ '^(\\*\\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'
);

-- One certificate per app (certs:add replaces it), used for those of the
-- app's domains it covers. The private key is sealed under the master key
-- (AES-256-GCM, bound to the app), like config vars.
CREATE TABLE certificates (
  app_id       bigint PRIMARY KEY REFERENCES apps(id) ON DELETE CASCADE,
  -- PEM chain, leaf first
  cert_pem     text NOT NULL,
  key_sealed   bytea NOT NULL,
  -- the DNS names the leaf is for (subjectAltName), lower case
  names        text[] NOT NULL CHECK (cardinality(names) > 0),
  -- SHA-256 of the leaf, as openssl prints it
  fingerprint  text NOT NULL,
  not_before   timestamptz NOT NULL,
  not_after    timestamptz NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- Routers keep domains and certificates in memory and reload them when told
-- (LISTEN shipoff_domains), whichever process made the change.
CREATE FUNCTION domains_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('shipoff_domains', TG_TABLE_NAME);
  RETURN NULL;
END $$;
CREATE TRIGGER domains_notify AFTER INSERT OR UPDATE OR DELETE ON domains
  FOR EACH STATEMENT EXECUTE FUNCTION domains_notify();
CREATE TRIGGER certificates_notify AFTER INSERT OR UPDATE OR DELETE ON certificates
  FOR EACH STATEMENT EXECUTE FUNCTION domains_notify();
-- A renamed app keeps its domains under its new name.
CREATE TRIGGER apps_renamed_notify_domains AFTER UPDATE OF name ON apps
  FOR EACH STATEMENT EXECUTE FUNCTION domains_notify();
`,
  },
  {
    version: 4,
    name: 'routes shared by every router on the store',
    sql: /* sql */ `
-- Where each app's web instances answer: written by the process that runs the
-- deployer, followed by every router (LISTEN shipoff_routes; the payload is
-- the app's name). No row: no routes (not deployed, asleep, or gone).
CREATE TABLE routes (
  app_id      bigint PRIMARY KEY REFERENCES apps(id) ON DELETE CASCADE,
  -- [{"host": "172.18.0.5", "port": 5000}, ...]
  backends    jsonb NOT NULL CHECK (jsonb_typeof(backends) = 'array'),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- An app destroyed or renamed changes what its name routes to: tell the routers.
CREATE FUNCTION apps_notify_routes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('shipoff_routes', OLD.name);
  IF TG_OP = 'UPDATE' THEN
    PERFORM pg_notify('shipoff_routes', NEW.name);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER apps_notify_routes AFTER DELETE OR UPDATE OF name ON apps
  FOR EACH ROW EXECUTE FUNCTION apps_notify_routes();
`,
  },
  {
    version: 5,
    name: 'releases made without a build (config change, rollback, limits)',
    sql: /* sql */ `
-- Such a deploy goes from QUEUED straight to RELEASING: it reuses an image.
CREATE OR REPLACE FUNCTION deploys_check_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.state <> 'QUEUED' THEN
      RAISE EXCEPTION 'a deploy starts QUEUED, not %', NEW.state USING ERRCODE = 'SH001';
    END IF;
  ELSIF NEW.state IS DISTINCT FROM OLD.state AND (OLD.state, NEW.state) NOT IN (
      ('QUEUED', 'BUILDING'), ('QUEUED', 'RELEASING'), ('QUEUED', 'FAILED'), ('QUEUED', 'CANCELLED'),
      ('BUILDING', 'RELEASING'), ('BUILDING', 'FAILED'), ('BUILDING', 'CANCELLED'),
      ('RELEASING', 'LIVE'), ('RELEASING', 'FAILED'), ('RELEASING', 'CANCELLED'),
      ('LIVE', 'SUPERSEDED')) THEN
    RAISE EXCEPTION 'illegal deploy transition % -> %', OLD.state, NEW.state USING ERRCODE = 'SH001';
  END IF;
  RETURN NEW;
END $$;
`,
  },
  {
    version: 6,
    name: 'a renamed app takes its release images along',
    sql: /* sql */ `
-- apps:rename copies each release image to the new name (shipoff/NEW:vN), so
-- a new app of the old name cannot take the tag over: image may change, and
-- the creator reference may fade to NULL; everything else stays as built
-- (builder too, which version 2 added without guarding it).
CREATE OR REPLACE FUNCTION releases_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.id, NEW.app_id, NEW.version, NEW.process_types, NEW.builder, NEW.config_snapshot, NEW.source_commit, NEW.description, NEW.created_at)
     IS DISTINCT FROM
     (OLD.id, OLD.app_id, OLD.version, OLD.process_types, OLD.builder, OLD.config_snapshot, OLD.source_commit, OLD.description, OLD.created_at)
     OR (NEW.created_by IS DISTINCT FROM OLD.created_by AND NEW.created_by IS NOT NULL) THEN
    RAISE EXCEPTION 'release v% of app % is immutable', OLD.version, OLD.app_id USING ERRCODE = 'SH002';
  END IF;
  RETURN NEW;
END $$;
`,
  },
];

const LOCK_KEY = 'shipoff:migrations';

/** Applies every pending migration in one transaction, one process at a time. */
export async function migrate(db: Db): Promise<{ applied: number[]; version: number }> {
  return db.tx(async (tx) => {
    // Two processes starting together: the second waits here, then finds nothing to do.
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [LOCK_KEY]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = await tx.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    const have = new Set(done.rows.map((r) => r.version));
    const newest = Math.max(0, ...have);
    const known = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
    if (newest > known) {
      throw new ShipoffError('SHIPOFF_SCHEMA_TOO_NEW', { have: String(newest), know: String(known) });
    }
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (have.has(m.version)) continue;
      try {
        await tx.query(m.sql);
        await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      } catch (err) {
        throw new ShipoffError('SHIPOFF_MIGRATION', { version: String(m.version), reason: (err as Error).message }, { cause: err });
      }
      applied.push(m.version);
    }
    return { applied, version: known };
  });
}
