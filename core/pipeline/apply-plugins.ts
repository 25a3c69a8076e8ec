import type { Hook, HookMap } from 'tapable';
import type { Logger } from 'pino';
import { ConfigError, PluginError } from '../errors/index.ts';
import type { RowEvent } from '../event/index.ts';
import type { Sink } from '../sink/index.ts';
import type { DeadLetterStore } from '../dead-letter/index.ts';
import { TunnelHooks } from './hooks.ts';
import type { TunnelPlugin } from './plugin.ts';

export interface AppliedPipeline {
  hooks: TunnelHooks;
  /** Sinks in registration order; the default route sends every event to all of them. */
  sinks: Map<string, Sink>;
  deadLetterStore?: DeadLetterStore;
}

type AnyHook = Hook<unknown[], unknown>;

function looksLikeEvent(value: unknown): value is RowEvent {
  return typeof value === 'object' && value !== null && 'rows' in value && 'action' in value;
}

/**
 * Create the task's hooks and apply its plugins in order. Every tap is wrapped so an error names
 * the plugin that registered it, the hook, the task and the event's position.
 */
export function applyPlugins(task: string, plugins: readonly TunnelPlugin[], logger: Logger): AppliedPipeline {
  const hooks = new TunnelHooks();
  const sinks = new Map<string, Sink>();
  let deadLetterStore: DeadLetterStore | undefined;
  let applying = '(unknown)';

  const wrapHook = (hook: AnyHook, hookName: string) => {
    hook.intercept({
      register: (tap) => {
        const plugin = applying;
        const fn = tap.fn as (...args: unknown[]) => unknown;
        const wrapped = (...args: unknown[]) => {
          try {
            return fn(...args);
          } catch (error) {
            if (error instanceof PluginError) throw error;
            const event = args.find(looksLikeEvent);
            throw new PluginError(plugin, hookName, task, error, event ? { position: event.position, table: `${event.schema}.${event.table}` } : {});
          }
        };
        return { ...tap, fn: wrapped };
      },
    });
  };
  for (const [hookName, hook] of Object.entries(hooks)) {
    if (hookName === 'tableTransform') {
      (hook as HookMap<AnyHook>).intercept({
        factory: (key, created) => {
          wrapHook(created, `tableTransform[${String(key)}]`);
          return created;
        },
      });
    } else {
      wrapHook(hook as AnyHook, hookName);
    }
  }

  plugins.forEach((plugin, index) => {
    applying = plugin.name;
    const context = {
      task,
      logger: logger.child({ plugin: plugin.name }),
      registerSink(name: string, sink: Sink) {
        if (sinks.has(name)) {
          throw new ConfigError(
            `task "${task}": plugins[${index}] (${plugin.name}) registers sink "${name}", but a sink of that name already exists; give each sink a unique name`,
          );
        }
        sinks.set(name, sink);
      },
      registerDeadLetterStore(store: DeadLetterStore) {
        deadLetterStore = store;
      },
    };
    try {
      plugin.apply(hooks, context);
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new PluginError(plugin.name, 'apply', task, error);
    }
  });
  applying = '(unknown)';
  return deadLetterStore ? { hooks, sinks, deadLetterStore } : { hooks, sinks };
}
