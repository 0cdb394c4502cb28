import { FailureType, refuse } from '../errors';

export const PLACEHOLDERS = ['service', 'environment', 'version', 'sha256', 'artifact', 'releaseId', 'previousVersion'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];
export type PlaceholderValues = Partial<Record<Placeholder, string>>;

/** `{name}` inside one argument; JSON such as `{"spec":…}` does not match and is passed through. */
const PLACEHOLDER_PATTERN = /\{([A-Za-z][A-Za-z0-9]*)\}/g;

function isPlaceholder(name: string): name is Placeholder {
  return (PLACEHOLDERS as readonly string[]).includes(name);
}

/**
 * Refuses (at construction, before any deploy) a command that names an unknown placeholder or one that
 * this command cannot be given, e.g. {artifact} in the `current` command.
 */
export function checkPlaceholders(field: string, argv: string[], available: readonly Placeholder[]): void {
  argv.forEach((arg, index) => {
    for (const match of arg.matchAll(PLACEHOLDER_PATTERN)) {
      const name = match[1]!;
      const where = `target.${field}[${index}]`;
      const offered = available.map((p) => `{${p}}`).join(' ') || 'none';
      if (!isPlaceholder(name)) {
        throw refuse(
          FailureType.SpecInvalid,
          `${where} uses unknown placeholder {${name}}; known placeholders are ${PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}`,
        );
      }
      if (!available.includes(name)) {
        throw refuse(FailureType.SpecInvalid, `${where} uses {${name}}, which the ${field} command is not given; it can use ${offered}`);
      }
    }
  });
}

/**
 * Substitutes placeholders argument by argument. Each argument stays exactly one argv element, so a value
 * like `1.0;rm -rf /` or `$(id)` reaches the program as literal text: no shell ever parses it.
 */
export function substitutePlaceholders(argv: string[], values: PlaceholderValues): string[] {
  return argv.map((arg) =>
    arg.replace(PLACEHOLDER_PATTERN, (whole, name: string) => (isPlaceholder(name) ? (values[name] ?? '') : whole)),
  );
}
