import { promises as fs } from 'node:fs';
import { configName } from './names';

/**
 * An environment's runtime configuration source: KEY=VALUE lines (comments with #). The values are
 * secrets as far as the orchestrator is concerned: they are handed to the service process and the
 * migration runner, and only their NAMES ever appear in results, history or logs.
 */
export async function readConfigSource(file: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`config source ${file}: cannot read it (${code ?? 'error'}); create it with KEY=VALUE lines`);
  }
  return parseConfigSource(text, file);
}

export function parseConfigSource(text: string, file = 'config'): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const key = eq > 0 ? line.slice(0, eq).trim() : '';
    if (eq <= 0 || !configName.safeParse(key).success) {
      throw new Error(`config source ${file}, line ${i + 1}: expected KEY=VALUE with an UPPER_SNAKE_CASE key`);
    }
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'")))) {
      value = value.slice(1, -1);
    }
    out[key] = value;
  });
  return out;
}

export function missingConfig(required: readonly string[], values: Record<string, string>): string[] {
  return required.filter((name) => values[name] === undefined || values[name] === '');
}
