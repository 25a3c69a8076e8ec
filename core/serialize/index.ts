export * from './serializer.ts';
export * from './sink-serializer.ts';
