export * from './event.ts';
export * from './row-access.ts';
