#!/usr/bin/env node
'use strict';
/**
 * Entry point of the npm scripts: `node scripts/run.js <script.ts> [args…]`. Plain JavaScript with no
 * dependencies, so that `npm run demo` and `npm test` work on a fresh clone: it installs the locked
 * dependencies when they are missing or stale, then runs the TypeScript script with tsx.
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const [script, ...args] = process.argv.slice(2);
if (!script) {
  console.error('usage: node scripts/run.js <script.ts> [args…]');
  process.exit(2);
}

const major = Number(process.versions.node.split('.')[0]);
if (major < 20) {
  console.error(`Node.js ${process.versions.node} is too old: install Node.js 20 or newer.`);
  process.exit(1);
}

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

// npm writes node_modules/.package-lock.json on every install: older than package-lock.json = stale.
const installed = mtime(path.join(root, 'node_modules', '.package-lock.json'));
if (installed === 0 || installed < mtime(path.join(root, 'package-lock.json'))) {
  console.error(installed === 0 ? 'Installing dependencies (npm ci)…' : 'package-lock.json changed: reinstalling dependencies (npm ci)…');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const res = spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (res.status !== 0) {
    console.error('npm ci failed; fix the error above (is the npm registry reachable?) and run the command again.');
    process.exit(res.status ?? 1);
  }
}

const child = spawn(process.execPath, ['--import', 'tsx', path.resolve(root, script), ...args], { stdio: 'inherit' });
// Ctrl-C reaches the whole foreground process group; the child handles it and we wait for its exit code.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + (require('node:os').constants.signals[signal] ?? 1) : 1)));
