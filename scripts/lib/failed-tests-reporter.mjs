// @ts-check
/**
 * A node:test reporter (`--test-reporter=<this file>`) that writes one line of JSON per failed test,
 * `{ file, test: [suite…, name], error }` (FailedTest in test-failures.ts), for the summary `npm test` prints
 * at the end; the spec reporter still shows the run live. Plain JavaScript because node:test loads reporters
 * without the tsx hooks. Reading the runner's events rather than its text output keeps the names exact,
 * whatever the tests themselves print.
 */
import path from 'node:path';

const MAX_ERROR_CHARS = 300;
/** Lines of a file's stderr kept to explain a failure outside any test (a crash while loading, say). */
const STDERR_LINES_KEPT = 200;

/** The opening lines of an error message on one line ("Expected values to be strictly equal: 1 !== 2"). */
function firstLines(/** @type {string} */ text) {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines.slice(0, 3).join(' ').slice(0, MAX_ERROR_CHARS);
}

/** node:test wraps what a test threw in an ERR_TEST_FAILURE whose cause is the original error. */
function describeError(/** @type {any} */ error) {
  if (typeof error !== 'object' || error === null) return firstLines(String(error ?? ''));
  const cause = error.cause;
  const causeMessage = typeof cause === 'object' && cause !== null ? cause.message : cause;
  return firstLines(String(causeMessage ?? error.message ?? ''));
}

/** @param {AsyncIterable<import('node:test/reporters').TestEvent>} source */
export default async function* failedTestsReporter(source) {
  /** Names of the tests now running in each file, by nesting level (events arrive in definition order). */
  const running = new Map();
  const stderrTail = new Map();
  for await (const event of source) {
    if (event.type === 'test:stderr') {
      const tail = [...(stderrTail.get(event.data.file) ?? []), ...event.data.message.split('\n')];
      stderrTail.set(event.data.file, tail.slice(-STDERR_LINES_KEPT));
    } else if (event.type === 'test:start' && event.data.file) {
      const stack = running.get(event.data.file) ?? [];
      stack.length = event.data.nesting;
      stack.push(event.data.name);
      running.set(event.data.file, stack);
    } else if (event.type === 'test:fail' && event.data.file) {
      const { file, name, nesting, details } = event.data;
      // A suite or parent test fails because a subtest did: the subtest is the one to name.
      if (/** @type {any} */ (details.error)?.failureType === 'subtestsFailed') continue;
      // The runner reports a file that failed outside its tests as a test named after the file.
      const wholeFile = nesting === 0 && path.resolve(name) === file;
      let error = describeError(details.error);
      if (wholeFile) {
        /** @type {string[]} */
        const tail = stderrTail.get(file) ?? [];
        const thrown = tail.find((line) => /^\w*(Error|Exception)\b/.test(line.trim()));
        const exitCode = /** @type {any} */ (details.error)?.exitCode;
        error = thrown ? firstLines(thrown) : typeof exitCode === 'number' ? `exited with code ${exitCode}` : '';
      }
      const test = wholeFile ? [] : [...(running.get(file) ?? []).slice(0, nesting), name];
      yield `${JSON.stringify({ file, test, error })}\n`;
    }
  }
}
