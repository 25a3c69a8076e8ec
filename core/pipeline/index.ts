export * from './hooks.ts';
export * from './plugin.ts';
