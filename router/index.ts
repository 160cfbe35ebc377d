// The public entry of router/.
export { createRouter, type RouterDeps, type RouterServer } from './router.js';
