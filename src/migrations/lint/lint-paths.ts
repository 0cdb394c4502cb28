import { promises as fs } from 'node:fs';
import path from 'node:path';
import { MIGRATION_FILE_NAME } from '../files';
import { lintMigrationSet } from './lint-source';
import type { LintResult } from './types';

/** Thrown for a path that cannot be linted; the CLI turns it into a usage error (exit 2). */
export class LintPathError extends Error {
  override name = 'LintPathError';
}

/** The .sql files named by `paths`: a directory stands for all its *.sql files, in name (= run) order. */
export async function resolveMigrationPaths(paths: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const p of paths) {
    let stat;
    try {
      stat = await fs.stat(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new LintPathError(`${p}: no such file or directory; pass a migrations directory or .sql files`);
      }
      throw err;
    }
    if (stat.isDirectory()) {
      const names = (await fs.readdir(p)).filter((n) => n.endsWith('.sql')).sort();
      files.push(...names.map((n) => path.join(p, n)));
    } else if (p.endsWith('.sql')) {
      files.push(p);
    } else {
      throw new LintPathError(`${p}: not a .sql file; pass a migrations directory or .sql files`);
    }
  }
  return files;
}

/**
 * Lints every file named by `paths`, in that order, each with what the files before it did to the schema.
 * Besides the SQL rules, a file whose name the runner would refuse gets a `migration-file-name` finding, so
 * the linter never passes a file the runner will not run.
 */
export async function lintMigrationPaths(paths: string[]): Promise<LintResult[]> {
  const files: Array<{ file: string; text: string }> = [];
  for (const file of await resolveMigrationPaths(paths)) files.push({ file, text: await fs.readFile(file, 'utf8') });
  const results = lintMigrationSet(files);
  for (const result of results) {
    const file = result.file;
    if (!MIGRATION_FILE_NAME.test(path.basename(file))) {
      result.findings.unshift({
        file,
        line: 1,
        rule: 'migration-file-name',
        message:
          'the runner only runs files named <sortable-id>_<name>.sql (e.g. 003_add_index.sql); rename the file',
      });
    }
  }
  return results;
}
