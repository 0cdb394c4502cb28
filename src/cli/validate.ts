import os from 'node:os';
import path from 'node:path';
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

/** Where a defaulted `--by` came from, for the message when it is not a valid name. */
export interface DefaultPerson {
  name: string;
  source: string;
}

/**
 * `--by` defaults to the login running deployctl: $DEPLOYCTL_USER, $USER, $LOGNAME, then the OS user name
 * (os.userInfo(), for cron jobs and containers without $USER). Undefined when none is known.
 */
export function defaultPerson(env: NodeJS.ProcessEnv, osUserName: () => string | undefined = currentOsUser): DefaultPerson | undefined {
  for (const name of ['DEPLOYCTL_USER', 'USER', 'LOGNAME']) {
    if (env[name]) return { name: env[name]!, source: `$${name}` };
  }
  const user = osUserName();
  return user ? { name: user, source: 'the OS user name' } : undefined;
}

function currentOsUser(): string | undefined {
  try {
    return os.userInfo().username || undefined;
  } catch {
    return undefined; // no passwd entry for this uid (some containers)
  }
}

/** `--by`, or the default login; the message says where a refused default came from. */
export function checkPersonOrDefault(by: unknown, env: NodeJS.ProcessEnv, command: string): string {
  if (by !== undefined) return checkPerson(by, command);
  const person = defaultPerson(env);
  if (!person) throw usageError(`--by: not given, and neither $USER nor the OS user name is known; pass --by <your login> (see deployctl ${command} --help)`);
  const parsed = personName.safeParse(person.name);
  if (parsed.success) return parsed.data;
  throw usageError(`--by: ${showValue(person.name)} (taken from ${person.source}) must be a login or email (letters, digits, . _ @ + -; max 64); pass --by <your login> (see deployctl ${command} --help)`);
}

/**
 * `--key`: a private key file, or a .pub whose private half is loaded in ssh-agent. Only its shape is
 * checked here (parse does no I/O); ssh-keygen reads it when signing. A leading `~/` is expanded, since a
 * quoted or `--key=~/…` path reaches us unexpanded by the shell.
 */
export function checkKeyFile(v: unknown, cwd: string, command: string): string | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  if (s === '' || s.length > 4096 || /[\u0000-\u001f\u007f]/.test(s)) {
    throw usageError(`--key: ${showValue(s)} must be the path of an SSH private key, or of its .pub when the key is in ssh-agent (see deployctl ${command} --help)`);
  }
  const expanded = s === '~' || s.startsWith('~/') ? path.join(os.homedir(), s.slice(1)) : s;
  return path.resolve(cwd, expanded);
}
