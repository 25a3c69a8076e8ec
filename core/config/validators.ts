/** Whether a string is a URL of one of these protocols (`['redis:', 'rediss:']`). */
export function isUrlOf(value: string, protocols: readonly string[]): boolean {
  try {
    return protocols.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** Whether a string is an http:// or https:// URL (option schemas of sinks use it). */
export function isHttpUrl(value: string): boolean {
  return isUrlOf(value, ['http:', 'https:']);
}
