import { promises as fs } from 'node:fs';
import { configName } from './names';

/**
 * An environment's runtime configuration source: KEY=VALUE lines (comments with #). The values are
 * secrets as far as the orchestrator is concerned: they are handed to the service process and the
 * migration runner, and only their NAMES ever appear in results, history or logs.
 */
export async function readConfigSource(file: string | undefined): Promise<Record<string, string>> {
  // A service without runtime configuration has no config source: its processes get none.
  if (file === undefined) return {};
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`config source ${file}: cannot read it (${code ?? 'error'}); create it with KEY=VALUE lines`);
  }
  return parseConfigSource(text, file);
}

/**
 * Strict KEY=VALUE parser: UPPER_SNAKE_CASE keys, values taken literally up to the end of the line,
 * `#` comment lines and blank lines. Every bad line is reported with its number; values are never echoed.
 */
export function parseConfigSource(text: string, source = 'config'): Record<string, string> {
  const values = new Map<string, string>();
  const problems: string[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const where = `${source}:${index + 1}`;
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const eq = line.indexOf('=');
    if (eq <= 0) {
      problems.push(`${where}: expected KEY=VALUE (or a # comment); fix or remove the line`);
      return;
    }
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (!configName.safeParse(key).success) {
      problems.push(`${where}: the key must be UPPER_SNAKE_CASE with no spaces (e.g. DATABASE_URL=...)`);
    } else if (values.has(key)) {
      problems.push(`${where}: ${key} is set twice; keep one line`);
    } else if (/^["']/.test(value)) {
      problems.push(`${where}: the value of ${key} starts with a quote; values are taken literally, remove the quotes`);
    } else {
      values.set(key, value);
    }
  });
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return Object.fromEntries(values);
}

export function missingConfig(required: readonly string[], values: Record<string, string>): string[] {
  return required.filter((name) => values[name] === undefined || values[name] === '');
}
