// The public entry of router/.
export { createRouter, labelUnder, type HostHandler, type RouterDeps, type RouterServer } from './router.js';
export { RouteTable, type Backend } from './route-table.js';
