import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FailureType, refuse } from '../../errors';
import { syncDir, tempName } from '../store';
import type { BlobInfo } from './types';

export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Refuses a name that is not a sha256 in lower-case hex (a blob is only ever asked for by its digest). */
export function checkSha256(sha256: string, what = 'sha256'): void {
  if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256)) {
    throw refuse(FailureType.InvalidInput, `${what} "${String(sha256).slice(0, 80)}" is not a sha256 digest (64 lower-case hex digits)`);
  }
}

/** What was found instead of the expected blob, for a refusal. */
export type BlobMismatch = { sha256: string; sizeBytes: number } | { sha256: null; sizeBytes: number; problem: string };

/** The refusal for stored bytes that are not the blob they are stored as: names both digests and the remedy. */
export function corruptBlobRefusal(expected: BlobInfo, found: BlobMismatch, location: string, remedy: string) {
  const got = found.sha256 !== null ? `hash to ${found.sha256} (${found.sizeBytes} bytes)` : found.problem;
  return refuse(
    FailureType.ArtifactConflict,
    `artifact ${expected.sha256} in ${location} is corrupt: its bytes ${got}, not to ${expected.sha256} (${expected.sizeBytes} bytes). It was not used. ${remedy}`,
    { expectedSha256: expected.sha256, actualSha256: found.sha256, expectedBytes: expected.sizeBytes, actualBytes: found.sizeBytes, location },
  );
}

/**
 * Passes `source` through while hashing it; throws instead of finishing when the bytes are not `expected`
 * (too many bytes fail as soon as they arrive). Nothing is buffered beyond the chunk in hand.
 */
export async function* verifiedBytes(source: AsyncIterable<Uint8Array>, expected: BlobInfo, refusal: (found: BlobMismatch) => Error): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  for await (const chunk of source) {
    if (!(chunk instanceof Uint8Array)) throw new TypeError(`artifact ${expected.sha256}: the store yielded ${typeof chunk}, not bytes`);
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    sizeBytes += buf.length;
    if (sizeBytes > expected.sizeBytes) throw refusal({ sha256: null, sizeBytes, problem: `run past the recorded ${expected.sizeBytes} bytes` });
    hash.update(buf);
    yield buf;
  }
  const sha256 = hash.digest('hex');
  if (sha256 !== expected.sha256 || sizeBytes !== expected.sizeBytes) throw refusal({ sha256, sizeBytes });
}

/**
 * Writes `source` to a temporary file in `dir`, hashing it on the way, then (unless `accept` throws) makes it
 * read-only, fsyncs it and renames it to `finalPath(digest)`: a reader never sees half a blob, and a crash
 * leaves at worst a temporary file. Returns the digest and size.
 */
export async function writeBlobFile(source: AsyncIterable<Uint8Array>, dir: string, finalPath: (info: BlobInfo) => string, accept?: (info: BlobInfo) => void): Promise<BlobInfo> {
  await fs.mkdir(dir, { recursive: true });
  const temp = tempName(dir, '.tar.gz');
  const handle = await fs.open(temp, 'wx', 0o600);
  let done = false;
  try {
    const hash = createHash('sha256');
    let sizeBytes = 0;
    try {
      for await (const chunk of source) {
        hash.update(chunk);
        sizeBytes += chunk.byteLength;
        await handle.write(chunk);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    const info = { sha256: hash.digest('hex'), sizeBytes };
    accept?.(info);
    await fs.chmod(temp, 0o444);
    const target = finalPath(info);
    await fs.rename(temp, target);
    done = true;
    await syncDir(path.dirname(target));
    return info;
  } finally {
    if (!done) await fs.rm(temp, { force: true });
  }
}

/** The refusal for a put whose bytes are not the blob the caller said they were: nothing is stored. */
export function putMismatchRefusal(expectedSha256: string, actual: BlobInfo, location: string) {
  return refuse(
    FailureType.ArtifactConflict,
    `the bytes given to ${location} as artifact ${expectedSha256} hash to ${actual.sha256} (${actual.sizeBytes} bytes); nothing was stored. ` +
      `The source changed while it was read, or it is not that artifact.`,
    { expectedSha256, actualSha256: actual.sha256 },
  );
}

/** Releases a source that will not be read (an open file stream would otherwise stay open). */
export function discardSource(source: AsyncIterable<Uint8Array>): void {
  const s = source as { destroy?: () => void; return?: () => unknown };
  if (typeof s.destroy === 'function') s.destroy();
  else if (typeof s.return === 'function') void s.return();
}
