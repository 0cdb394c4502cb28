import { existsSync, readFileSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';

/**
 * Who owns a port and which processes belong to a target, read from Linux /proc:
 * - /proc/net/tcp and /proc/net/tcp6 list sockets; state 0A is LISTEN, the local port is the hex after ':'
 *   of column 2 and column 10 is the socket's inode;
 * - /proc/<pid>/fd/* are symlinks `socket:[<inode>]` for the sockets a process holds;
 * - /proc/<pid>/stat field 5 is the process group, field 22 the start time in clock ticks since boot;
 * - /proc/<pid>/environ (NUL-separated, the environment the process was started with) and /proc/<pid>/cwd
 *   carry the marks the target gives each release it starts.
 * Reading another user's fd, environ or cwd needs root (or the same user): what cannot be read is skipped.
 * The reads are synchronous: one scan is a few thousand small reads of an in-memory filesystem.
 */

export const HAS_PROC = existsSync('/proc/self/stat');
const TCP_LISTEN = '0A';

export interface ProcessIdentity {
  pid: number;
  /** Process group (stat field 5). */
  pgrp: number;
  /** Start time in clock ticks since boot (stat field 22). */
  startTicks: string;
  /** argv joined with spaces, shortened, for messages. */
  command: string;
}

export interface PortOwners {
  /** Inodes of the sockets listening on the port (IPv4 and IPv6). */
  listening: number;
  /** The processes holding those sockets; fewer than expected when some cannot be inspected. */
  holders: ProcessIdentity[];
  /** Sockets no visible process holds (another user's, when not running as root). */
  unattributed: number;
}

/** Inodes of the sockets in LISTEN state on `port`, from /proc/net/tcp and /proc/net/tcp6. */
export function listeningSocketInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue; // no IPv6 in this kernel
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== TCP_LISTEN) continue;
      const local = cols[1]!;
      if (parseInt(local.slice(local.lastIndexOf(':') + 1), 16) !== port) continue;
      if (cols[9] !== '0') inodes.add(cols[9]!);
    }
  }
  return inodes;
}

function numericDirs(dir: string): number[] {
  try {
    return readdirSync(dir).filter((n) => /^\d+$/.test(n)).map(Number);
  } catch {
    return [];
  }
}

/** pgrp, start time and command of a live process; null when it is gone or a zombie. */
export function processIdentity(pid: number): ProcessIdentity | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may contain spaces and parentheses: fields are counted after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return null;
  let command = '';
  try {
    command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    // gone meanwhile
  }
  if (!command) command = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  // Another user's argv reaches operator-facing messages: no control characters, bounded length.
  command = command.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  if (command.length > 200) command = `${command.slice(0, 197)}...`;
  return { pid, pgrp: Number(fields[2]), startTicks: fields[19] ?? '', command };
}

/** The processes listening on `port`: its LISTEN sockets mapped to the pids whose fds hold them. */
export function portOwners(port: number): PortOwners {
  const inodes = listeningSocketInodes(port);
  if (inodes.size === 0) return { listening: 0, holders: [], unattributed: 0 };
  const wanted = new Set([...inodes].map((i) => `socket:[${i}]`));
  const seen = new Set<string>();
  const holders: ProcessIdentity[] = [];
  for (const pid of numericDirs('/proc')) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or another user's
    }
    let holds = false;
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (wanted.has(link)) {
        seen.add(link);
        holds = true;
      }
    }
    if (!holds) continue;
    const identity = processIdentity(pid);
    if (identity) holders.push(identity);
  }
  return { listening: inodes.size, holders, unattributed: inodes.size - seen.size };
}

/** A process group started by this target for one release. */
export interface TargetProcessGroup {
  pgrp: number;
  releaseId: string;
  /** Started behind the front door (DEPLOY_TRAFFIC=1): one process per release, each on its own port. */
  behindFrontDoor: boolean;
  /** The group leader (the process the target spawned), when it is still alive. */
  leader: ProcessIdentity | null;
  members: ProcessIdentity[];
}

function environValue(pid: number, name: string): string | undefined {
  let env: string;
  try {
    env = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return undefined;
  }
  const prefix = `${name}=`;
  return env.split('\0').find((kv) => kv.startsWith(prefix))?.slice(prefix.length);
}

/**
 * Every live process group this target started, found by the two marks each release process carries from
 * its start: `DEPLOY_RELEASE_ID=<id>` in its environment and its working directory `releases/<id>` of this
 * target's root. Both are needed: the same release may run under another target's root, and an operator's
 * shell in a release directory has no release ID in its environment.
 */
export function targetProcessGroups(releasesDir: string): TargetProcessGroup[] {
  if (!HAS_PROC) return [];
  let realReleases: string;
  try {
    realReleases = realpathSync(releasesDir);
  } catch {
    return [];
  }
  const groups = new Map<number, TargetProcessGroup>();
  for (const pid of numericDirs('/proc')) {
    if (pid === process.pid) continue;
    let cwd: string;
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      continue;
    }
    if (!cwd.startsWith(`${realReleases}/`)) continue;
    // A pruned release directory reads as "<path> (deleted)".
    const dirName = cwd.slice(realReleases.length + 1).replace(/ \(deleted\)$/, '');
    const releaseId = environValue(pid, 'DEPLOY_RELEASE_ID');
    if (!releaseId || dirName !== releaseId || path.basename(dirName) !== dirName) continue;
    const identity = processIdentity(pid);
    if (!identity) continue;
    const behindFrontDoor = environValue(pid, 'DEPLOY_TRAFFIC') === '1';
    const group = groups.get(identity.pgrp) ?? { pgrp: identity.pgrp, releaseId, behindFrontDoor, leader: null, members: [] };
    group.members.push(identity);
    if (identity.pid === identity.pgrp) group.leader = identity;
    groups.set(identity.pgrp, group);
  }
  return [...groups.values()].sort((a, b) => a.pgrp - b.pgrp);
}
