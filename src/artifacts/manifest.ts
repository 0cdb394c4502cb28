import { z } from 'zod';

/** What a bundle is: carried inside it as deploy-manifest.json and beside it in the store. */
export interface ArtifactManifest {
  service: string;
  version: string;
  /** The full commit hash the version resolved to. */
  commit: string;
  buildCommand: string[];
  outputs: string[];
  /** Names of the runtime configuration the release needs (never values). */
  requiredConfig: string[];
  migrations: { id: string; phase: 'expand' | 'contract'; checksum: string }[];
  /** Entries in the bundle, the manifest itself included. */
  files: number;
}

export interface StoredArtifact {
  manifest: ArtifactManifest;
  /**
   * The source repository the version was built from (`sourceIdentity`), recorded beside the bundle
   * rather than in it, so one commit builds to the same bytes wherever its repository lives. Absent in
   * records written before provenance was recorded.
   */
  repository?: string;
  sha256: string;
  /** Absolute path of the .tar.gz in the store. */
  path: string;
  sizeBytes: number;
}

const manifestSchema = z
  .object({
    service: z.string(),
    version: z.string(),
    commit: z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/),
    buildCommand: z.array(z.string()),
    outputs: z.array(z.string()),
    requiredConfig: z.array(z.string()),
    migrations: z.array(
      z.object({ id: z.string(), phase: z.enum(['expand', 'contract']), checksum: z.string() }).strict(),
    ),
    files: z.number().int().nonnegative(),
  })
  .strict();

/**
 * The store's per-version record: the manifest (which names the commit), the source repository it was
 * built from, and the bundle's digest and size.
 */
export const versionRecordSchema = z
  .object({
    manifest: manifestSchema,
    repository: z.string().min(1).optional(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    sizeBytes: z.number().int().nonnegative(),
  })
  .strict();
export type VersionRecord = z.infer<typeof versionRecordSchema>;

/** JSON with object keys sorted at every level, so equal values always serialise to equal bytes. */
export function canonicalJson(value: unknown): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v as object)
          .sort()
          .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return JSON.stringify(sortKeys(value), null, 2) + '\n';
}
