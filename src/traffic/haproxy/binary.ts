import { execFile } from 'node:child_process';
import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * Finds the haproxy executable the front doors run. Dynamic servers (`add server` / `del server` on the
 * Runtime API) and the other commands the front door relies on are checked on 2.6, the oldest accepted.
 */

const execFileAsync = promisify(execFile);

export const MINIMUM_HAPROXY_VERSION = '2.6';
/** Where Debian's `haproxy` package installs the executable; HAPROXY_PATH overrides it. */
export const DEBIAN_HAPROXY_PATH = '/usr/sbin/haproxy';

export type HaproxyLookup =
  | { found: true; path: string; version: string }
  /** missing: no haproxy at all (installing one helps); unusable: one that is too old, broken or not where HAPROXY_PATH says. */
  | { found: false; problem: 'missing' | 'unusable'; reason: string };

/** Parses the first line of `haproxy -v`: "HAProxy version 2.6.12-1+deb12u4 2025/07/22 - https://haproxy.org/". */
export function parseHaproxyVersion(output: string): string | null {
  const match = /HAProxy version (\d+\.\d+(?:\.\d+)?)/i.exec(output);
  return match ? match[1]! : null;
}

/** True when `version` (e.g. "2.6.12") is at least `minimum` (e.g. "2.6"), compared number by number. */
export function versionAtLeast(version: string, minimum: string): boolean {
  const a = version.split('.').map(Number);
  const b = minimum.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

export async function haproxyVersion(executable: string): Promise<string> {
  const { stdout, stderr } = await execFileAsync(executable, ['-v'], { timeout: 15_000 });
  const version = parseHaproxyVersion(`${stdout}\n${stderr}`);
  if (!version) throw new Error(`${executable} -v printed "${stdout.trim()}", which is not an HAProxy version line`);
  return version;
}

/**
 * HAPROXY_PATH, else /usr/sbin/haproxy, else `haproxy` on PATH; refused when older than 2.6.
 * Never throws: a missing or old haproxy is a reason the caller reports (or skips with).
 */
export async function findHaproxy(): Promise<HaproxyLookup> {
  const fromEnv = process.env.HAPROXY_PATH;
  const candidates = fromEnv ? [fromEnv] : [DEBIAN_HAPROXY_PATH, ...pathCandidates()];
  for (const candidate of candidates) {
    if (!(await isExecutable(candidate))) continue;
    let version: string;
    try {
      version = await haproxyVersion(candidate);
    } catch (err) {
      return { found: false, problem: 'unusable', reason: `${candidate} -v failed: ${(err as Error).message}` };
    }
    if (!versionAtLeast(version, MINIMUM_HAPROXY_VERSION)) {
      return {
        found: false,
        problem: 'unusable',
        reason: `${candidate} is HAProxy ${version}; the front door needs ${MINIMUM_HAPROXY_VERSION} or later (dynamic servers through the Runtime API). Install a newer haproxy or set HAPROXY_PATH.`,
      };
    }
    return { found: true, path: candidate, version };
  }
  return {
    found: false,
    problem: fromEnv ? 'unusable' : 'missing',
    reason: fromEnv
      ? `HAPROXY_PATH=${fromEnv} is not an executable file; point it at haproxy ${MINIMUM_HAPROXY_VERSION} or later`
      : `haproxy is not installed (looked for ${DEBIAN_HAPROXY_PATH} and on PATH); install Debian's package (as root: apt-get install -y haproxy) or set HAPROXY_PATH`,
  };
}

function pathCandidates(): string[] {
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => path.isAbsolute(dir))
    .map((dir) => path.join(dir, 'haproxy'));
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) return false;
    await fs.access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}
