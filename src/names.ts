import { z } from 'zod';
import { FREE_TEXT_MAX_CHARS, FREE_TEXT_TOO_LONG, PERSON_NAME, PERSON_NAME_MESSAGE, UNSAFE_TEXT, UNSAFE_TEXT_MESSAGE } from './text-rules';

export { UNSAFE_TEXT } from './text-rules';

/**
 * Names that become directory names, database names, workflow IDs and process arguments. They are
 * deliberately narrow (ASCII, no dots at the start, no separators) so that no input can escape a
 * directory or be read by a shell as anything but a word.
 */
export const serviceName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes, starting with a letter (max 63)');

export const environmentName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,30}$/, 'must be lowercase letters, digits and dashes, starting with a letter (max 31)');

/** A release version: a git tag (1.2.3, v1.2.3, 2024.05.01-rc1) or a commit hash. */
export const versionName = z
  .string()
  .regex(
    /^[0-9A-Za-z](?:[0-9A-Za-z._+-]{0,62}[0-9A-Za-z])?$/,
    'must be letters, digits, dot, dash, underscore or plus, starting and ending with a letter or digit (max 64)',
  )
  .refine((v) => !v.includes('..'), 'must not contain ".."');

/**
 * One name per release: `v1.10.3` and `1.10.3` are the same version (the tag may carry the `v` or not), so
 * the registry, the search attributes and rollbacks see it once, as `1.10.3`.
 */
export function canonicalVersion(version: string): string {
  return /^v[0-9]/.test(version) ? version.slice(1) : version;
}

/** A person named in approvals and requests: a login or an email, never free text. */
export const personName = z.string().regex(PERSON_NAME, PERSON_NAME_MESSAGE);

/** A runtime configuration variable name (its value never enters workflow history). */
export const configName = z.string().regex(/^[A-Z_][A-Z0-9_]{0,127}$/, 'must be an UPPER_SNAKE_CASE variable name');

/** Free text from people (comments, reasons): bounded, and free of characters that hide or rewrite what a terminal shows. */
export const freeText = z
  .string()
  .max(FREE_TEXT_MAX_CHARS, FREE_TEXT_TOO_LONG)
  .refine((t) => !UNSAFE_TEXT.test(t), UNSAFE_TEXT_MESSAGE);

export function deployWorkflowId(service: string, environment: string): string {
  return `deploy-${service}-${environment}`;
}
