export * from './dead-letter.ts';
