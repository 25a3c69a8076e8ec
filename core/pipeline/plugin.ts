import type { Logger } from 'pino';
import type { TunnelHooks } from './hooks.ts';
import type { Sink } from '../sink/index.ts';
import type { DeadLetterStore } from '../dead-letter/index.ts';

/**
 * A plugin is a small object with a `name` and an `apply(hooks, context)` (webpack style). Sinks
 * are plugins too: their `apply` calls `context.registerSink(name, sink)`.
 */
export interface TunnelPlugin {
  readonly name: string;
  apply(hooks: TunnelHooks, context: PluginContext): void;
}

export interface PluginContext {
  /** The task this pipeline belongs to. */
  readonly task: string;
  readonly logger: Logger;
  /** Register a destination under a unique name; `route` taps name sinks by it. */
  registerSink(name: string, sink: Sink): void;
  /** Replace the task's dead-letter destination (e.g. a Redis list). */
  registerDeadLetterStore(store: DeadLetterStore): void;
  /**
   * Declare the sink names this plugin sends events to (e.g. a router's rules). Checked once every
   * plugin of the task is applied, so `tunnel validate` and start fail at once on a name no plugin
   * registers, instead of the task failing at the first event. `option` names the plugin option the
   * names come from, for the message (e.g. `rules[0].sinks`).
   */
  requireSinks(names: readonly string[], option?: string): void;
}

/** Identity helper so a team's plugin written in its own file gets full types. */
export function definePlugin<P extends TunnelPlugin>(plugin: P): P {
  return plugin;
}
