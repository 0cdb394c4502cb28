import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { VersionRecord } from '../manifest';
import { blobPath, checkStoreNames, readVersionRecord, writeVersionRecord } from '../store';
import type { ArtifactStore, BlobInfo, OpenedBlob } from './types';
import { checkSha256, corruptBlobRefusal, discardSource, putMismatchRefusal, verifiedBytes, writeBlobFile } from './verify';

/**
 * The artifact store as a directory, in the layout every worker's local cache has (`sha256/<sha>.tar.gz`
 * and `<service>/<version>.json`). Pointed at a shared file system (NFS, CephFS, …) it is shared by the
 * replicas that mount it; by default it is the worker's own cache, which serves one machine only.
 */
export class FilesystemArtifactStore implements ArtifactStore {
  readonly kind = 'filesystem' as const;
  readonly location: string;

  constructor(readonly dir: string) {
    this.location = `the artifact directory ${dir}`;
  }

  private async size(sha256: string): Promise<number | null> {
    checkSha256(sha256);
    try {
      const st = await fs.stat(blobPath(this.dir, sha256));
      return st.isFile() ? st.size : null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async put(source: AsyncIterable<Uint8Array>, o: { expectedSha256?: string } = {}): Promise<BlobInfo & { created: boolean }> {
    const expected = o.expectedSha256;
    if (expected) {
      const size = await this.size(expected);
      if (size !== null) {
        discardSource(source);
        return { sha256: expected, sizeBytes: size, created: false };
      }
    }
    const info = await writeBlobFile(source, path.join(this.dir, 'sha256'), (i) => blobPath(this.dir, i.sha256), (i) => {
      if (expected && i.sha256 !== expected) throw putMismatchRefusal(expected, i, this.location);
    });
    return { ...info, created: true };
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.size(sha256)) !== null;
  }

  async open(sha256: string): Promise<OpenedBlob | null> {
    const sizeBytes = await this.size(sha256);
    if (sizeBytes === null) return null;
    const file = blobPath(this.dir, sha256);
    const expected = { sha256, sizeBytes };
    const remedy = `Remove ${file}, then deploy the version again: its build stage rebuilds it from the recorded commit and keeps it only if it hashes to ${sha256}.`;
    const bytes = verifiedBytes(createReadStream(file), expected, (found) => corruptBlobRefusal(expected, found, this.location, remedy));
    return { ...expected, stream: Readable.from(bytes, { objectMode: false }) };
  }

  async get(sha256: string, file: string): Promise<boolean> {
    const opened = await this.open(sha256);
    if (!opened) return false;
    await writeBlobFile(opened.stream, path.dirname(file), () => file);
    return true;
  }

  recordVersion(record: VersionRecord): Promise<{ record: VersionRecord; created: boolean }> {
    return writeVersionRecord(this.dir, record);
  }

  findVersion(service: string, version: string): Promise<VersionRecord | null> {
    checkStoreNames(service, version);
    return readVersionRecord(this.dir, service, version);
  }

  async close(): Promise<void> {}
}
