export * from './errors.ts';
export * from './tls.ts';
