import type { z } from 'zod';
import { environmentName, freeText, personName, serviceName, versionName } from '../names';
import { usageError } from './errors';

/**
 * A refused value as it is echoed back: quoted, with control, bidi and zero-width characters escaped (so
 * the terminal shows what was typed, not what it renders as) and cut to 80 characters.
 */
export function showValue(value: string): string {
  const cut = value.length > 80 ? `${value.slice(0, 80)}…` : value;
  const escaped = JSON.stringify(cut).replace(/[\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return value.length > 80 ? `${escaped} (${value.length} characters)` : escaped;
}

/**
 * Checks one option value against the same schema the workflow uses, so a value deployctl accepts is one
 * the deploy accepts. The message names the option as the operator typed it.
 */
function check<T>(schema: z.ZodType<T>, label: string, value: unknown, command: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const shown = typeof value === 'string' ? showValue(value) : String(value);
  throw usageError(`${label}: ${shown} ${parsed.error.issues.map((i) => i.message).join('; ')} (see deployctl ${command} --help)`);
}

export const checkService = (v: unknown, command: string) => check(serviceName, '<service>', v, command);
export const checkEnvironment = (v: unknown, command: string) => check(environmentName, '--env', v, command);
export const checkVersion = (v: unknown, command: string, label = '--version') => check(versionName, label, v, command);
export const checkPerson = (v: unknown, command: string, label = '--by') => check(personName, label, v, command);

/** Free text (comments, reasons): bounded and free of control characters, as the workflow's payload schemas require. */
export function checkFreeText(v: unknown, label: string, command: string): string | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  const parsed = freeText.safeParse(s);
  if (!parsed.success) throw usageError(`${label}: ${s.length > 500 ? `${s.length} characters: ` : ''}${parsed.error.issues.map((i) => i.message).join('; ')} (see deployctl ${command} --help)`);
  return s;
}

export function checkLimit(v: unknown, command: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw usageError(`--limit: ${JSON.stringify(v)} must be a whole number from 1 to 1000 (see deployctl ${command} --help)`);
  return n;
}

/** `--by` defaults to the login running deployctl; a login that is not a valid person name must be given explicitly. */
export function defaultPerson(env: NodeJS.ProcessEnv): string | undefined {
  return env.DEPLOYCTL_USER || env.USER || env.LOGNAME || undefined;
}
