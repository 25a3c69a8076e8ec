export * from './registry-paths.ts';
export * from './registry-options.ts';
export * from './assignment.ts';
export * from './zk-client.ts';
export * from './member.ts';
export * from './position-codec.ts';
export * from './position-store.ts';
export * from './position-admin.ts';
