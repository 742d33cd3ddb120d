import type { OptionDef, OptionSchema, OptionsOf } from '../core/option-schema.js';
import type { OptionSpec, ParsedOptions } from './args.js';
import { gpuMemory } from './stream-data.js';

// The flags of a model's options come from its option schema (src/models/*-options.ts): the
// flag, the value's type and range, the line of help and the default are the schema's.

/** A default as the help shows it. */
export function shownDefault(value: unknown): string {
  if (typeof value === 'number')
    return value !== 0 && Math.abs(value) < 1e-2 ? value.toExponential() : String(value);
  return Array.isArray(value) ? value.join(',') : String(value);
}

/** The flag of one declared option (it must have a command-line form). */
export function flagOf(name: string, def: OptionDef): OptionSpec {
  if (!def.cli) throw new Error(`option ${name} has no command-line form`);
  const value = (() => {
    switch (def.kind) {
      case 'integer':
        return 'integer' as const;
      case 'number':
        return 'number' as const;
      case 'boolean':
        return undefined;
      default:
        return def.cli.list ? ('numbers' as const) : ('string' as const);
    }
  })();
  return {
    name,
    flags: def.cli.flags,
    value,
    choices: def.choices,
    min: def.min,
    max: def.max,
    above: def.above,
    help: def.help,
    default: def.default !== undefined ? shownDefault(def.default) : def.defaultText,
    sklearn: def.sklearn,
  };
}

/** The flags of the named options of a schema, in the order named. */
export function schemaFlags<S extends OptionSchema>(
  schema: S,
  ...names: Array<keyof S & string>
): OptionSpec[] {
  return names.map((name) => flagOf(name, schema[name]));
}

/**
 * The model options a command line gives: every parsed flag named after an option of the schema
 * (and `--max-gpu-memory` as `maxGpuBytes` where the model takes it); the model's defaults apply
 * to the rest.
 */
export function schemaOptions<S extends OptionSchema>(o: ParsedOptions, schema: S): Partial<OptionsOf<S>> {
  const given: Record<string, unknown> = Object.fromEntries(
    Object.entries(o).filter(([name, v]) => v !== undefined && Object.hasOwn(schema, name)),
  );
  const bytes = Object.hasOwn(schema, 'maxGpuBytes') ? gpuMemory(o) : undefined;
  if (bytes !== undefined) given.maxGpuBytes = bytes;
  return given as Partial<OptionsOf<S>>;
}
