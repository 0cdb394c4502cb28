/**
 * `npm run lint`: ESLint with the project's rules (eslint.config.mjs) over the repository's TypeScript.
 *
 *   npm run lint                      everything
 *   npm run lint -- src/workflows     just these files or directories
 *   npm run lint -- --fix             other ESLint flags pass through
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { eslintArgv } from './lib/lint';

const child = spawn(process.execPath, eslintArgv(process.argv.slice(2)), { cwd: path.resolve(__dirname, '..'), stdio: 'inherit' });
child.on('error', (err) => {
  process.stderr.write(`could not run ESLint: ${err.message}\n`);
  process.exit(1);
});
child.on('close', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
