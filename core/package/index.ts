export * from './package-info.ts';
