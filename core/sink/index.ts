export * from './sink.ts';
export * from './sink-plugin.ts';
