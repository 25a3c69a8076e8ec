/**
 * Name templates shared by sinks: `{name}` placeholders replaced by values, e.g. an index name
 * `{schema}_{table}` or a Redis key `{schema}:{table}:{id}`. There is no escaping: a template
 * holds literal text and placeholders, nothing else.
 */
import { ConfigError } from '../errors/index.ts';

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** The placeholder names a template uses, in order of appearance (duplicates kept once). */
export function templatePlaceholders(template: string): string[] {
  const names = new Set<string>();
  for (const match of template.matchAll(PLACEHOLDER)) names.add(match[1] as string);
  return [...names];
}

export type TemplateVars = Readonly<Record<string, string | number>>;

/** A template split once into literal parts and placeholder names, rendered without regexes. */
export interface CompiledTemplate {
  readonly source: string;
  readonly placeholders: readonly string[];
  render(vars: TemplateVars): string;
}

/**
 * Compile a template. When `allowed` is given, a placeholder outside it throws a ConfigError naming
 * it (option schemas report it under their field path).
 */
export function compileTemplate(template: string, allowed?: readonly string[]): CompiledTemplate {
  const literals: string[] = [];
  const names: string[] = [];
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    const name = match[1] as string;
    if (allowed && !allowed.includes(name)) {
      throw new ConfigError(`unknown placeholder {${name}} (allowed: ${allowed.map((a) => `{${a}}`).join(' ')})`, { template });
    }
    literals.push(template.slice(last, match.index));
    names.push(name);
    last = (match.index as number) + match[0].length;
  }
  literals.push(template.slice(last));
  return {
    source: template,
    placeholders: [...new Set(names)],
    render(vars: TemplateVars): string {
      let out = literals[0] as string;
      for (let i = 0; i < names.length; i++) {
        const value = vars[names[i] as string];
        if (value === undefined) throw new ConfigError(`no value for placeholder {${names[i]}} of template "${template}"`, { template });
        out += String(value) + (literals[i + 1] as string);
      }
      return out;
    },
  };
}

/** One-off rendering; prefer compileTemplate for templates rendered per event. */
export function renderTemplate(template: string, vars: TemplateVars): string {
  return compileTemplate(template).render(vars);
}
