export * from './hooks.ts';
export * from './plugin.ts';
export * from './apply-plugins.ts';
