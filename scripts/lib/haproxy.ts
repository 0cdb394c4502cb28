import { execFile } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import { promisify } from 'node:util';
import { findHaproxy, MINIMUM_HAPROXY_VERSION, type HaproxyLookup } from '../../src/traffic/haproxy/binary';

/**
 * Installs Debian's haproxy for the traffic front doors when it is missing. The package registers a systemd
 * unit but starts nothing in a container; the front doors run their own haproxy processes with their own
 * configuration, so the system's /etc/haproxy is never used.
 */

const execFileAsync = promisify(execFile);

export type HaproxyInstallLookup = (HaproxyLookup & { found: true; installedNow: boolean }) | { found: false; reason: string };

export interface FindHaproxyOptions {
  /** Install the Debian package when missing and running as root (default true). */
  install?: boolean;
  onProgress?: (line: string) => void;
}

/** What does not work without HAProxy: said wherever it is missing, so the consequence is clear. */
export const WITHOUT_HAPROXY =
  'Without it the traffic front doors cannot run: environments with a blueGreen or canary strategy (the ' +
  "example's staging and production) cannot deploy, and the traffic tests fail.";

const INSTALL_ADVICE = `Install Debian's haproxy >= ${MINIMUM_HAPROXY_VERSION} (as root: apt-get install -y haproxy) or set HAPROXY_PATH=/path/to/haproxy.`;

/**
 * haproxy >= 2.6 from HAPROXY_PATH, /usr/sbin/haproxy or PATH; else (as root, with apt-get)
 * `apt-get install -y haproxy` non-interactively. Never throws: a missing haproxy is a reason.
 */
export async function findOrInstallHaproxy(options: FindHaproxyOptions = {}): Promise<HaproxyInstallLookup> {
  const progress = options.onProgress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const found = await findHaproxy();
  if (found.found) return { ...found, installedNow: false };
  // An explicit HAPROXY_PATH or an old haproxy is the operator's choice: installing next to it would hide the problem.
  if (found.problem === 'unusable') return { found: false, reason: found.reason };

  if (options.install === false) return { found: false, reason: `${found.reason}. ${INSTALL_ADVICE}` };
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return { found: false, reason: `haproxy is missing and installing it needs root. ${INSTALL_ADVICE}` };
  }
  try {
    await fs.access('/usr/bin/apt-get', fsConstants.X_OK);
  } catch {
    return { found: false, reason: `haproxy is missing and this system has no apt-get. ${INSTALL_ADVICE}` };
  }

  const started = Date.now();
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args: string[]) => execFileAsync('apt-get', args, { env, timeout: 15 * 60_000, maxBuffer: 64 << 20 });
  progress("haproxy is missing: installing Debian's haproxy package (apt-get install -y haproxy)…");
  try {
    await apt(['install', '-y', '--no-install-recommends', 'haproxy']);
  } catch {
    // A fresh machine may have no package lists yet; refresh them once and try again.
    progress('  apt-get install failed; running apt-get update and trying again…');
    try {
      await apt(['update']);
      await apt(['install', '-y', '--no-install-recommends', 'haproxy']);
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      const tail = (e.stderr ?? e.message).trim().split('\n').slice(-5).join('\n');
      return { found: false, reason: `apt-get install -y haproxy failed:\n${tail}\n${INSTALL_ADVICE}` };
    }
  }
  const after = await findHaproxy();
  if (!after.found) return { found: false, reason: `apt-get installed haproxy, but: ${after.reason}` };
  progress(`  installed ${after.path} (HAProxy ${after.version}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { ...after, installedNow: true };
}

if (require.main === module) {
  findOrInstallHaproxy().then((r) => {
    process.stdout.write(r.found ? `${r.path} (HAProxy ${r.version}${r.installedNow ? ', installed now' : ''})\n` : `${r.reason}\n${WITHOUT_HAPROXY}\n`);
    process.exit(r.found ? 0 : 1);
  }, (err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  });
}
