export * from './dead-letter.ts';
export * from './file-dead-letter-store.ts';
