export type { ArtifactManifest, StoredArtifact } from './manifest';
export type { BuildOptions, BuildProgress } from './build';
export { buildArtifact } from './build';
export { findArtifact, verifyArtifact } from './store';
export { unpackArtifact } from './unpack';
export { MANIFEST_FILE } from './bundle';
export { resolveRevision } from './git';
