import path from 'node:path';
import type { WorkerConfig } from '../../config';
import { FilesystemArtifactStore } from './filesystem';
import { PostgresArtifactStore } from './postgres';
import type { ArtifactStore } from './types';

export type { ArtifactStore, ArtifactStoreKind, BlobInfo, OpenedBlob } from './types';
export { FilesystemArtifactStore } from './filesystem';
export { PostgresArtifactStore, CHUNK_BYTES } from './postgres';

/** The worker's local artifact cache: <DEPLOY_DATA_DIR>/artifacts, in the store directory layout. */
export function localArtifactCache(config: Pick<WorkerConfig, 'DEPLOY_DATA_DIR'>, cwd: string): string {
  return path.resolve(cwd, config.DEPLOY_DATA_DIR, 'artifacts');
}

/** Opens the shared artifact store the worker's configuration names. */
export async function openArtifactStore(config: Pick<WorkerConfig, 'DEPLOY_ARTIFACT_STORE' | 'DEPLOY_ARTIFACT_DIR' | 'DEPLOY_DATA_DIR' | 'DEPLOY_DATABASE_URL'>, cwd: string): Promise<ArtifactStore> {
  if (config.DEPLOY_ARTIFACT_STORE === 'filesystem') {
    return new FilesystemArtifactStore(config.DEPLOY_ARTIFACT_DIR ? path.resolve(cwd, config.DEPLOY_ARTIFACT_DIR) : localArtifactCache(config, cwd));
  }
  return PostgresArtifactStore.open(config.DEPLOY_DATABASE_URL);
}
