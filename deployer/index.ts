// The public entry of deployer/: pushed commit in, live release out.
export { Deployer, desiredCounts, isStopped, limitsOf, WEB_PORT, type Backend, type BuildJob, type BuiltImage, type DeployerDeps, type DeployRequest, type InstanceReport, type ReleaseChange, type Traffic } from './deployer.js';
export { BuildSlots } from './build-slots.js';
export { DEFAULT_HEALTH_CHECK, waitUntilHealthy, type HealthCheck } from './health-check.js';
export { Autosleep, DEFAULT_IDLE_SECONDS, idleSecondsOf, waitForPort, type ActivityView, type AutosleepDeps, type WakeResult } from './autosleep.js';
export { isStaticRelease, removeTree, StaticReleases, STATIC_WEB_COMMAND, type StaticReleasesDeps } from './static-release.js';
export { formatFormation } from './config-changes.js';
