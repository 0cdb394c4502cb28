import type { z } from 'zod';

/** Formats zod issues as one line per field: `environments.staging.target.port: expected number`. */
export function describeIssues(error: z.ZodError, prefix = ''): string[] {
  const join = (parts: PropertyKey[]) => [prefix, ...parts.map(String)].filter(Boolean).join('.') || '(root)';
  return error.issues.flatMap((i) => {
    // Name each unknown field by its full path, so a typo is found without counting braces.
    if (i.code === 'unrecognized_keys') return i.keys.map((k) => `${join([...i.path, k])}: unknown field; remove it (or check its spelling)`);
    if (i.code === 'invalid_key') return [`${join(i.path)}: the key ${i.issues.map((n) => n.message).join('; ')}`];
    return [`${join(i.path)}: ${i.message}`];
  });
}
