import type { PlaceholderValues } from './placeholders';

/**
 * What a target command's environment holds: an allowlist, never the worker's whole environment (it
 * carries the worker's database URL, Temporal API key and signing keys). Tools that need more (KUBECONFIG,
 * SSH_AUTH_SOCK, a cloud profile) are named in DEPLOY_COMMAND_ENV_PASSTHROUGH.
 */

export const COMMAND_ENV_PASSTHROUGH = 'DEPLOY_COMMAND_ENV_PASSTHROUGH';
const BASE_NAMES = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ'];
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The placeholders a command is given, also as DEPLOY_* variables (DEPLOY_RELEASE_ID for {releaseId}). */
function placeholderVariables(values: PlaceholderValues): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue;
    env[`DEPLOY_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`] = value;
  }
  return env;
}

function passthroughNames(): string[] {
  const raw = process.env[COMMAND_ENV_PASSTHROUGH] ?? '';
  return raw
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n && ENV_NAME.test(n));
}

export function commandEnvironment(runtimeEnv: Record<string, string>, values: PlaceholderValues): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of [...BASE_NAMES, ...passthroughNames()]) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...placeholderVariables(values), ...runtimeEnv };
}

/** Names whose values are credentials: masked in any output the worker records. */
const SECRET_NAME = /(KEY|SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|CREDENTIALS?|AUTH|PRIVATE|COOKIE|SESSION|DSN)($|_)|(^|_)(DATABASE_URL|DB_URL)$/i;

/**
 * The worker's own secrets by name: variables whose name says so, and the password of any URL with one
 * (a database URL under another name). Masked in command output even though commands never get them,
 * since a tool may find them elsewhere (a config file, its parent's /proc entry).
 */
export function workerSecrets(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    if (SECRET_NAME.test(name)) secrets[name] = value;
    const password = /^[a-z][a-z0-9+.-]*:\/\/[^/@:\s]*:([^/@\s]+)@/i.exec(value)?.[1];
    if (password) secrets[`${name}:password`] = safeDecode(password);
  }
  return secrets;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
