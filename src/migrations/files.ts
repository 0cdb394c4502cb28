import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

export type MigrationPhase = 'expand' | 'contract';

/** A migration file as shipped in a release: `<sortable-id>_<name>.sql`, first line `-- phase: expand|contract`. */
export interface MigrationFile {
  /** The file name, e.g. `002_add_greeting_locale.sql`; the ledger's key. */
  id: string;
  phase: MigrationPhase;
  sql: string;
  /** sha256 (hex) of the text with CRLF normalised to LF. */
  checksum: string;
}

export const MIGRATION_FILE_NAME = /^[0-9][0-9A-Za-z]*_[A-Za-z0-9_-]+\.sql$/;

export function normalizeSql(text: string): string {
  return text.replace(/\r\n?/g, '\n');
}

export function migrationChecksum(text: string): string {
  return createHash('sha256').update(normalizeSql(text), 'utf8').digest('hex');
}

/** The phase declared on the first line, or null when the line is missing or malformed. */
export function parseMigrationPhase(text: string): MigrationPhase | null {
  const first = normalizeSql(text).split('\n', 1)[0]?.trim() ?? '';
  const m = /^--\s*phase:\s*(expand|contract)\s*$/i.exec(first);
  return m ? (m[1]!.toLowerCase() as MigrationPhase) : null;
}

/** Reads every migration of a directory in id order; refuses bad names and missing phase lines. */
export async function loadMigrationDir(dir: string): Promise<MigrationFile[]> {
  let entries: string[];
  try {
    entries = await fs.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const files = entries.filter((f) => f.endsWith('.sql')).sort();
  const out: MigrationFile[] = [];
  for (const id of files) {
    if (!MIGRATION_FILE_NAME.test(id)) {
      throw new Error(`migration ${id}: file name must be <sortable-id>_<name>.sql (e.g. 003_add_index.sql)`);
    }
    const sql = normalizeSql(await fs.readFile(path.join(dir, id), 'utf8'));
    const phase = parseMigrationPhase(sql);
    if (!phase) {
      throw new Error(`migration ${id}: first line must be "-- phase: expand" or "-- phase: contract"`);
    }
    out.push({ id, phase, sql, checksum: migrationChecksum(sql) });
  }
  return out;
}
