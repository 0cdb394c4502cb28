import type { Readable } from 'node:stream';
import type { VersionRecord } from '../manifest';

/** Where the artifacts every worker replica shares are kept (worker env DEPLOY_ARTIFACT_STORE). */
export type ArtifactStoreKind = 'postgres' | 'filesystem';

export interface BlobInfo {
  sha256: string;
  sizeBytes: number;
}

/** An opened blob: `stream` yields its bytes and fails at its end when they do not hash to `sha256`. */
export interface OpenedBlob extends BlobInfo {
  stream: Readable;
}

/**
 * The artifact store shared by every worker replica: content-addressed bundles (`sha256` → bytes) and the
 * version records that say which bundle `service@version` is. Blobs are immutable and idempotent on their
 * sha256; a version record, once written, is never replaced (versions are immutable).
 *
 * Every read is verified: `open` hands out a stream that errors instead of ending when the bytes are not the
 * ones asked for, and `get` writes a file only once the whole blob has hashed to its name. A reader must not
 * use a blob's bytes before its stream ended cleanly.
 */
export interface ArtifactStore {
  readonly kind: ArtifactStoreKind;
  /** Where the store is, for messages (never a password). */
  readonly location: string;
  /**
   * Streams `source` into the store and returns its digest and size. With `expectedSha256`, a blob already
   * stored is not read again (the source is destroyed unread), and bytes that hash to anything else are
   * refused and leave nothing behind.
   */
  put(source: AsyncIterable<Uint8Array>, o?: { expectedSha256?: string }): Promise<BlobInfo & { created: boolean }>;
  has(sha256: string): Promise<boolean>;
  /** The blob as a verified stream, or null when the store does not hold it. */
  open(sha256: string): Promise<OpenedBlob | null>;
  /**
   * Writes the blob to `file` (through a temporary name in its directory, renamed once verified); false when
   * the store does not hold it. A blob whose bytes do not match its sha256 is refused and `file` is not made.
   */
  get(sha256: string, file: string): Promise<boolean>;
  /** Records which bundle `service@version` is, unless it is recorded already: then the recorded one is returned. */
  recordVersion(record: VersionRecord): Promise<{ record: VersionRecord; created: boolean }>;
  findVersion(service: string, version: string): Promise<VersionRecord | null>;
  close(): Promise<void>;
}
