import { FailureType, refuse } from '../../errors';

export const PLACEHOLDERS = ['service', 'environment', 'version', 'sha256', 'artifact', 'releaseId', 'previousVersion'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];
export type PlaceholderValues = Partial<Record<Placeholder, string>>;

/** `{name}` inside one argument; JSON such as `{"spec":…}` does not match and is passed through. */
const PLACEHOLDER_PATTERN = /\{([A-Za-z][A-Za-z0-9]*)\}/g;

function isPlaceholder(name: string): name is Placeholder {
  return (PLACEHOLDERS as readonly string[]).includes(name);
}

/**
 * What is wrong with the placeholders of one command: an unknown name, or one that this command cannot be
 * given (e.g. {artifact} in the `current` command). Empty when every placeholder is fine.
 */
export function placeholderProblems(field: string, argv: string[], available: readonly Placeholder[]): Array<{ index: number; message: string }> {
  const problems: Array<{ index: number; message: string }> = [];
  argv.forEach((arg, index) => {
    for (const match of arg.matchAll(PLACEHOLDER_PATTERN)) {
      const name = match[1]!;
      const offered = available.map((p) => `{${p}}`).join(' ') || 'none';
      if (!isPlaceholder(name)) {
        problems.push({ index, message: `uses unknown placeholder {${name}}; known placeholders are ${PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}` });
      } else if (!available.includes(name)) {
        problems.push({ index, message: `uses {${name}}, which the ${field} command is not given; it can use ${offered}` });
      }
    }
  });
  return problems;
}

/** Refuses (at construction, before any deploy) a command whose placeholders `placeholderProblems` faults. */
export function checkPlaceholders(field: string, argv: string[], available: readonly Placeholder[]): void {
  const first = placeholderProblems(field, argv, available)[0];
  if (first) throw refuse(FailureType.SpecInvalid, `target.${field}[${first.index}] ${first.message}`);
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
