import { z } from 'zod';
import { HOST_NAME_PATTERN } from '../../agent/contract';
import { hostPath, servicePort } from '../../spec/fields';
import { localTargetFields } from '../local/config';

const maxMs = 24 * 3600 * 1000;

/** Batches per rollout: each adds about 20 events to the parent's history (child start and end, its record). */
export const MAX_BATCHES = 500;

/** The most servers one HAProxy front door takes (src/traffic/schema.ts). */
export const FRONT_DOOR_MAX_HOSTS = 64;

/** One host of a fleet: its agent polls `deploys-host-<name>`; the service listens on `port` there. */
export const fleetHostSchema = z.strictObject({
  name: z
    .string()
    .regex(HOST_NAME_PATTERN, 'must be lowercase letters, digits and dashes, starting with a letter or digit (max 63), e.g. "web-1"'),
  port: servicePort,
});
export type FleetHostSpec = z.infer<typeof fleetHostSchema>;

/** A count of hosts (≥ 1) or a percentage of the fleet ("25%", rounded up, at least one host). */
export const batchSizeSchema = z.union(
  [
    z.number().int('must be an integer').min(1, 'must be at least 1 host'),
    z.string().regex(/^(100|[1-9][0-9]?)%$/, 'must be a percentage 1%-100%, e.g. "25%"'),
  ],
  'must be a number of hosts (e.g. 2) or a percentage of the fleet (e.g. "25%")',
);

/** `environments.<env>.target` when `type: fleet`. */
export const fleetTargetSpecSchema = z
  .strictObject({
    type: z.literal('fleet'),
    /** The orchestrator's files for this fleet (front door, last reported host states). */
    root: hostPath,
    hosts: z.array(fleetHostSchema).min(1, 'must list at least one host').max(5_000, 'at most 5000 hosts per environment'),
    /** Hosts deployed at once; the next batch starts only after this one passed. */
    batchSize: batchSizeSchema.default(1),
    /** Failed hosts tolerated before the rollout halts and every updated host is rolled back. */
    maxFailedHosts: z.number().int('must be an integer').min(0, 'must not be negative').default(0),
    /** How long one host operation may take, retries included: an agent dead for longer fails its host. */
    hostTimeoutMs: z.number().int('must be an integer').min(1_000, 'must be at least 1000').max(maxMs).default(5 * 60_000),
    /** How long a host taken out of the front door may take to finish its requests. */
    drainTimeoutMs: z.number().int('must be an integer').min(0, 'must not be negative').max(maxMs).default(10_000),
    /** HAProxy on this port spreads requests over the hosts (one server per host); absent: no front door. */
    frontDoor: z.strictObject({ port: servicePort }).optional(),
    keepReleases: localTargetFields.keepReleases,
    stopTimeoutMs: localTargetFields.stopTimeoutMs,
    startTimeoutMs: localTargetFields.startTimeoutMs,
  })
  .superRefine((t, ctx) => {
    const names = new Map<string, number>();
    t.hosts.forEach((h, i) => {
      const same = names.get(h.name);
      if (same !== undefined) ctx.addIssue({ code: 'custom', path: ['hosts', i, 'name'], message: `"${h.name}" is already hosts[${same}]; host names must be unique` });
      else names.set(h.name, i);
      if (t.frontDoor && h.port === t.frontDoor.port) ctx.addIssue({ code: 'custom', path: ['hosts', i, 'port'], message: `${h.port} is the front door's port; give the host another` });
    });
    if (t.frontDoor) {
      // Behind one front door the hosts are on this machine's loopback: each needs its own port.
      const ports = new Map<number, number>();
      t.hosts.forEach((h, i) => {
        const same = ports.get(h.port);
        if (same !== undefined) ctx.addIssue({ code: 'custom', path: ['hosts', i, 'port'], message: `${h.port} is already the port of hosts[${same}]; behind a front door each host listens on its own port` });
        else ports.set(h.port, i);
      });
      if (t.hosts.length > FRONT_DOOR_MAX_HOSTS) {
        ctx.addIssue({ code: 'custom', path: ['hosts'], message: `a front door serves at most ${FRONT_DOOR_MAX_HOSTS} hosts (${t.hosts.length} listed); split the fleet or leave frontDoor out` });
      }
    }
    const batches = Math.ceil(t.hosts.length / batchCount(t.batchSize, t.hosts.length));
    if (batches > MAX_BATCHES) {
      ctx.addIssue({
        code: 'custom',
        path: ['batchSize'],
        message: `${t.hosts.length} hosts in batches of ${batchCount(t.batchSize, t.hosts.length)} make ${batches} batches; at most ${MAX_BATCHES} (each batch adds about 20 events to the deploy's history, whose limit is 51,200): use a larger batchSize or a percentage, e.g. "10%"`,
      });
    }
    if (t.maxFailedHosts >= t.hosts.length) {
      ctx.addIssue({ code: 'custom', path: ['maxFailedHosts'], message: `must be less than the number of hosts (${t.hosts.length}); with ${t.maxFailedHosts} no failure would ever halt the rollout` });
    }
  });
export type FleetTargetSpec = z.infer<typeof fleetTargetSpecSchema>;

/** How many hosts a batch holds: a count, or a percentage of `hosts` rounded up (at least 1). */
export function batchCount(batchSize: number | string, hosts: number): number {
  if (typeof batchSize === 'number') return Math.min(batchSize, hosts);
  const pct = Number(batchSize.slice(0, -1));
  return Math.max(1, Math.min(hosts, Math.ceil((hosts * pct) / 100)));
}
