/** One Redis command: its name and arguments, as ioredis `call`/`pipeline` take them. */
export type Command = [name: string, ...args: (string | number | Buffer)[]];
