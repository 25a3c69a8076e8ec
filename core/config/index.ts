export * from './schema.ts';
export * from './define-config.ts';
export * from './resolve.ts';
export * from './issues.ts';
export * from './validators.ts';
export * from './sink-options.ts';
export * from './load.ts';
