import type { PluginContext, TunnelPlugin } from '../pipeline/plugin.ts';
import type { Sink } from './sink.ts';

/** A plugin that registers one sink, which it exposes (tests and tools read what the sink wrote). */
export interface SinkPlugin<S extends Sink> extends TunnelPlugin {
  readonly sink: S;
}

/**
 * A sink as a plugin named `sink:<name>`: applied, it registers the sink under `name` (route taps
 * name sinks by it), after `onApply` has seen the task's context (e.g. to log through its logger).
 */
export function sinkPlugin<S extends Sink>(name: string, sink: S, onApply?: (context: PluginContext) => void): SinkPlugin<S> {
  return {
    name: `sink:${name}`,
    sink,
    apply(_hooks, context) {
      onApply?.(context);
      context.registerSink(name, sink);
    },
  };
}
