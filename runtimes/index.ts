// The public entry of runtimes/: the contract. The Docker runtime arrives with
// the push pipeline, Kubernetes/k3s after it.
export type { Instance, InstanceSpec, InstanceState, Runtime } from './runtime.js';
