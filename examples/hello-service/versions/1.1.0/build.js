'use strict';
// Deterministic build: the same source tree and DEPLOY_COMMIT always give the same dist/ contents
// (no timestamps, no randomness). The release needs only dist/, migrations/ and package.json.
const fs = require('node:fs');
const path = require('node:path');

const root = __dirname;
const dist = path.join(root, 'dist');

function fail(line) {
  process.stderr.write(`build: ${line}\n`);
  process.exit(1);
}

const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

const commit = process.env.DEPLOY_COMMIT || null;
if (commit !== null && !/^[0-9a-f]{7,64}$/.test(commit)) {
  fail('DEPLOY_COMMIT must be the lowercase hex id of the commit being built (7-64 characters), or unset');
}

// Dependencies are vendored in the source tree so a build never needs the network.
const vendored = path.join(root, 'node_modules');
if (!fs.existsSync(path.join(vendored, 'pg', 'package.json'))) {
  fail('node_modules/pg is missing: this service vendors its dependencies; build from the tagged source tree');
}

fs.rmSync(dist, { recursive: true, force: true });
fs.mkdirSync(dist);
fs.copyFileSync(path.join(root, 'src', 'server.js'), path.join(dist, 'server.js'));
const buildInfo = { service: pkg.name, version: pkg.version, commit };
fs.writeFileSync(path.join(dist, 'build-info.json'), `${JSON.stringify(buildInfo, null, 2)}\n`);
fs.cpSync(vendored, path.join(dist, 'node_modules'), { recursive: true });

// Reproducible-builds convention: when SOURCE_DATE_EPOCH is set, every output file carries that time.
const epoch = process.env.SOURCE_DATE_EPOCH;
if (epoch !== undefined) {
  if (!/^[0-9]+$/.test(epoch)) fail('SOURCE_DATE_EPOCH must be whole seconds since 1970, or unset');
  const stamp = (p) => {
    if (fs.statSync(p).isDirectory()) for (const e of fs.readdirSync(p)) stamp(path.join(p, e));
    fs.utimesSync(p, Number(epoch), Number(epoch));
  };
  stamp(dist);
}

process.stdout.write(`build: ${pkg.name} ${pkg.version} -> dist/ (server.js, build-info.json, node_modules)\n`);
