export * from './terminal.js';
export * from './units.js';
export * from './table.js';
export * from './progress.js';
export * from './next-step.js';
