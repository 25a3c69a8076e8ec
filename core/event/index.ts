export * from './event.ts';
export * from './position.ts';
export * from './row-access.ts';
export * from './template.ts';
export * from './table-pattern.ts';
export * from './value-rules.ts';
export * from './schema-change.ts';
export * from './column-types.ts';
