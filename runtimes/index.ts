// The public entry of runtimes/: the contract and the runtimes that answer it.
// Docker now, Kubernetes/k3s after it.
export type { Instance, InstanceSpec, InstanceState, LogOptions, OneOffIo, OneOffSpec, Runtime, RuntimeEvent } from './runtime.js';
export { DockerRuntime, DEFAULT_MEMORY_BYTES, type DockerRuntimeOptions } from './docker/docker-runtime.js';
export { MANAGED as MANAGED_LABEL, LABEL as INSTANCE_LABELS } from './docker/labels.js';
