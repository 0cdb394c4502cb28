import path from 'node:path';

/** One failed test as the failed-tests reporter records it: a line of JSON. */
export interface FailedTest {
  /** Absolute path of the test file. */
  file: string;
  /** Names from the outermost suite to the failed test; empty when the file failed outside any test. */
  test: string[];
  /** The first line of what went wrong. */
  error: string;
}

export function parseFailedTests(jsonLines: string): FailedTest[] {
  return jsonLines
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as FailedTest);
}

function displayPath(file: string, root: string): string {
  const relative = path.relative(root, file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}

/**
 * The closing summary of a test run: each failing file, and under it each failing test with the first
 * line of its error, in the order they ran.
 */
export function formatFailureSummary(failures: FailedTest[], fileCount: number, root: string): string {
  const byFile = new Map<string, FailedTest[]>();
  for (const failure of failures) {
    const list = byFile.get(failure.file) ?? [];
    list.push(failure);
    byFile.set(failure.file, list);
  }
  const lines = [`✗ ${byFile.size} of ${fileCount} test file(s) failed:`];
  for (const [file, list] of byFile) {
    lines.push(`  ${displayPath(file, root)}`);
    for (const failure of list) {
      const name =
        failure.test.length > 0
          ? failure.test.join(' › ')
          : '(outside any test: the file did not load, exited early or kept running after its tests)';
      lines.push(`    ✗ ${name}${failure.error ? ` — ${failure.error}` : ''}`);
    }
  }
  return lines.join('\n');
}
