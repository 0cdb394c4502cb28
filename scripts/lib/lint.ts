import path from 'node:path';

/**
 * The argv (after `node`) that runs ESLint's own CLI with the project's eslint.config.mjs: with no file
 * arguments it lints the whole repository. Warnings count as failures, so nothing is left to pile up.
 */
export function eslintArgv(args: string[]): string[] {
  const bin = path.join(path.dirname(require.resolve('eslint/package.json')), 'bin', 'eslint.js');
  return [bin, '--max-warnings=0', ...args];
}
