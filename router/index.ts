// The public entry of router/.
export { createRouter, labelUnder, type AccessRecord, type HostHandler, type RouterDeps, type RouterServer } from './router.js';
export { RouteTable, type Backend } from './route-table.js';
export { RouterMetrics, Registry } from './metrics.js';
export { DomainTable, type DomainLookup, type DomainSource } from './domains.js';
