import { z } from 'zod';

/** Field schemas shared by the spec and the target kinds' own schemas (one definition each). */

/** A path inside the service's source tree (build outputs, the migrations directory). */
export const relativePath = z
  .string()
  .min(1)
  .max(256)
  .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), 'must be a relative path inside the source tree (no "..", not absolute)');

/** A path on the worker's machine; relative paths resolve against the worker's working directory. */
export const hostPath = z
  .string()
  .min(1)
  .max(1024)
  .refine((p) => !p.includes('\0'), 'must not contain NUL')
  .refine((p) => !p.split(/[\\/]/).includes('..'), 'must not contain ".." (write the path it resolves to)');

/** A resolved host path (what a plan carries). */
export const absolutePath = z
  .string()
  .max(4096)
  .refine((p) => p.startsWith('/') && !p.includes('\0'), 'must be an absolute directory path');

/** argv: never a shell string. Each element is one argument, passed as is. */
export const argv = z
  .array(z.string().min(1, 'must not be an empty string').max(4096).refine((a) => !a.includes('\0'), 'must not contain NUL'))
  .min(1, 'must be a non-empty argv array (the program first, then one element per argument; no shell)')
  .max(64);

export const positiveMs = z.number().int().positive().max(24 * 3600 * 1000);

/** A TCP port a release listens on: unprivileged, so a release never needs root to bind it. */
export const servicePort = z.number().int('must be an integer').min(1024, 'must be 1024-65535').max(65535, 'must be 1024-65535');
