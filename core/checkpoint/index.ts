export * from './position-store.ts';
export * from './position-format.ts';
export { formatPosition } from '../event/position.ts';
export * from './file-position-store.ts';
export * from './commit-tracker.ts';
