// The public entry of core/: the domain every part shares, and the store.
export * from './errors.js';
export * from './settings.js';
export * from './names.js';
export * from './model.js';
export * from './deploy-state.js';
export * from './ssh-keys.js';
export { crlfWriter } from './crlf-writer.js';
export { seal, open, loadOrCreateMasterKey, MASTER_KEY_FILE } from './secrets.js';
export { Store, Repos, openStore, ensureDataDir, type StoreBackend } from './store/store.js';
export { embeddedServerPid, POSTGRES_SYSTEM_USER } from './store/embedded-postgres.js';
export { MIGRATIONS } from './store/migrations.js';
export type { NewDeploy, NewRelease } from './store/deploys-repo.js';
export type { NewAuditEvent } from './store/audit-repo.js';
export type { AppChanges } from './store/apps-repo.js';
export {
  DOMAINS_CHANNEL,
  CUSTOM_DOMAIN_RULE,
  customDomainProblem,
  normalizeCustomDomain,
  certificateCovers,
  type CustomDomain,
  type CertificateInfo,
  type NewCertificate,
  type DomainsSnapshot,
} from './store/domains-repo.js';
export type { RouteBackend, RoutesUpdate, Listening } from './store/routes-repo.js';
