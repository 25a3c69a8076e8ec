export * from './secrets.ts';
