import { z } from 'zod';
import { FailureType, refuse } from '../errors';
import { describeIssues } from '../zod-issues';

/**
 * What a front door is told to serve. Every value here ends up in an HAProxy configuration line or a
 * Runtime API command, so names are narrow words (no `/`, spaces, `;` or newlines: the Runtime API splits
 * commands on `;` and lines, and `<backend>/<server>` on `/`) and numbers are checked against HAProxy's limits.
 */

/** A server or front door name: lowercase letters, digits and dashes, starting with a letter or digit. */
export const trafficName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes, starting with a letter or digit (max 63), e.g. "hello-1-1-0"');

/** The front door name of a service's environment, e.g. "hello-service-staging". */
export function frontDoorName(service: string, environment: string): string {
  return `${service}-${environment}`.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '') || 'front-door';
}

export const tcpPort = z.number().int('must be an integer').min(1, 'must be a port 1-65535').max(65535, 'must be a port 1-65535');

/** HAProxy accepts absolute weights 0..256; 0 keeps a server configured but sends it no new requests. */
export const serverWeight = z.number().int('must be an integer').min(0, 'must be a weight 0-256').max(256, 'must be a weight 0-256');

/**
 * ready: takes requests in proportion to its weight · drain: no new requests, in-flight ones finish ·
 * maint: no traffic at all (the only state in which HAProxy lets a server be deleted).
 */
export const serverState = z.enum(['ready', 'drain', 'maint'], 'must be "ready", "drain" or "maint"');
export type ServerState = z.infer<typeof serverState>;

export const desiredServerSchema = z.strictObject({
  name: trafficName,
  port: tcpPort,
  weight: serverWeight,
  state: serverState.default('ready'),
});
export type DesiredServer = z.infer<typeof desiredServerSchema>;
export type DesiredServerInput = z.input<typeof desiredServerSchema>;

export const desiredServersSchema = z
  .array(desiredServerSchema)
  .max(64, 'at most 64 servers per front door')
  .superRefine((servers, ctx) => {
    const names = new Map<string, number>();
    const ports = new Map<number, number>();
    servers.forEach((server, i) => {
      const sameName = names.get(server.name);
      if (sameName !== undefined) {
        ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${server.name}" is already servers[${sameName}]; server names must be unique` });
      } else names.set(server.name, i);
      const samePort = ports.get(server.port);
      if (samePort !== undefined) {
        ctx.addIssue({ code: 'custom', path: [i, 'port'], message: `${server.port} is already the port of servers[${samePort}]; each server listens on its own port` });
      } else ports.set(server.port, i);
    });
  });

/** What one front door should serve: the complete set of its servers (a server not listed is removed). */
export const desiredTrafficSchema = z.strictObject({ servers: desiredServersSchema });
export type DesiredTraffic = z.infer<typeof desiredTrafficSchema>;
export type DesiredTrafficInput = z.input<typeof desiredTrafficSchema>;

/** Parses `value` or throws a non-retryable InvalidInput naming every bad field as `<what>.<path>: <problem>`. */
export function parseOrRefuse<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw refuse(FailureType.InvalidInput, `${what} is invalid: ${describeIssues(parsed.error, what).join('; ')}`);
  }
  return parsed.data;
}
