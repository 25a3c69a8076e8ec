import type { Hook, HookMap } from 'tapable';
import type { Logger } from 'pino';
import { ConfigError, PluginError } from '../errors/index.ts';
import type { RowEvent } from '../event/index.ts';
import type { Sink } from '../sink/index.ts';
import type { DeadLetterStore } from '../dead-letter/index.ts';
import { TunnelHooks } from './hooks.ts';
import type { PluginContext, TunnelPlugin } from './plugin.ts';

export interface AppliedPipeline {
  hooks: TunnelHooks;
  /** Sinks in registration order; the default route sends every event to all of them. */
  sinks: Map<string, Sink>;
  deadLetterStore?: DeadLetterStore;
}

export interface ApplyOptions {
  /** Where the task is in the config (`tasks[0]`), for messages that name a field path. */
  configPath?: string;
}

type AnyHook = Hook<unknown[], unknown>;
type AnyFn = (...args: unknown[]) => unknown;

/** Hooks that only report: a tap failing there is logged and goes no further (see hooks.ts). */
const OBSERVERS = new Set(['batchWritten', 'positionCommitted', 'error']);

function looksLikeEvent(value: unknown): value is RowEvent {
  return typeof value === 'object' && value !== null && 'rows' in value && 'action' in value;
}

/**
 * Create the task's hooks and apply its plugins in order. Every tap, sync or async, is wrapped so a
 * failure names the plugin that registered it, the hook, the task and the event's position; filter
 * taps can only drop (`false`) or pass on; observer taps cannot disturb the pipeline; and the sink
 * names plugins refer to are checked once every plugin has registered its sinks.
 */
export function applyPlugins(task: string, plugins: readonly TunnelPlugin[], logger: Logger, options: ApplyOptions = {}): AppliedPipeline {
  const pluginAt = (index: number, name: string) =>
    options.configPath ? `${options.configPath}.plugins[${index}] (${name})` : `task "${task}": plugins[${index}] (${name})`;
  const hooks = new TunnelHooks();
  const sinks = new Map<string, Sink>();
  const references: Array<{ plugin: string; index: number; names: readonly string[]; option: string }> = [];
  let deadLetterStore: DeadLetterStore | undefined;
  let applying = '(unknown)';

  const wrapHook = (hook: AnyHook, hookName: string) => {
    hook.intercept({
      register: (tap) => {
        const plugin = applying;
        const fn = tap.fn as AnyFn;
        const failure = (error: unknown, args: unknown[]) => {
          if (error instanceof PluginError) return error;
          const event = args.find(looksLikeEvent);
          return new PluginError(plugin, hookName, task, error, event ? { position: event.position, table: `${event.schema}.${event.table}` } : {});
        };
        let wrapped: AnyFn;
        if (OBSERVERS.has(hookName)) {
          wrapped = (...args) => {
            try {
              fn(...args);
            } catch (error) {
              logger.error({ err: failure(error, args), plugin, hook: hookName }, 'a plugin failed in an observer hook; ignored');
            }
          };
        } else if (tap.type === 'promise') {
          wrapped = (...args) => {
            try {
              return Promise.resolve(fn(...args)).catch((error: unknown) => {
                throw failure(error, args);
              });
            } catch (error) {
              return Promise.reject(failure(error, args));
            }
          };
        } else if (tap.type === 'async') {
          wrapped = (...args) => {
            const callback = args.at(-1) as (error?: unknown, result?: unknown) => void;
            const params = args.slice(0, -1);
            try {
              return fn(...params, (error?: unknown, result?: unknown) => (error ? callback(failure(error, params)) : callback(error, result)));
            } catch (error) {
              return callback(failure(error, params));
            }
          };
        } else if (hookName === 'filter') {
          // Only `false` drops; `true` must not end the bail hook before the later filters ran.
          wrapped = (...args) => {
            try {
              return fn(...args) === false ? false : undefined;
            } catch (error) {
              throw failure(error, args);
            }
          };
        } else {
          wrapped = (...args) => {
            try {
              return fn(...args);
            } catch (error) {
              throw failure(error, args);
            }
          };
        }
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
    const context: PluginContext = {
      task,
      logger: logger.child({ plugin: plugin.name }),
      registerSink(name: string, sink: Sink) {
        if (sinks.has(name)) {
          throw new ConfigError(
            `${pluginAt(index, plugin.name)} registers sink "${name}", but a sink of that name already exists; give each sink a unique name`,
          );
        }
        sinks.set(name, sink);
      },
      registerDeadLetterStore(store: DeadLetterStore) {
        deadLetterStore = store;
      },
      requireSinks(names: readonly string[], option = 'sinks') {
        references.push({ plugin: plugin.name, index, names: [...names], option });
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

  for (const { plugin, index, names, option } of references) {
    const unknown = names.filter((name) => !sinks.has(name));
    if (unknown.length > 0) {
      const known = sinks.size > 0 ? `the sinks are ${[...sinks.keys()].join(', ')}` : 'no plugin registers a sink';
      throw new ConfigError(
        `${pluginAt(index, plugin)} ${option} names ${unknown.map((n) => `"${n}"`).join(', ')}, which no plugin registers as a sink; ${known}`,
      );
    }
  }
  return deadLetterStore ? { hooks, sinks, deadLetterStore } : { hooks, sinks };
}
