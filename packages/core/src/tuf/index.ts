// @patchbay/core/tuf: the TUF repository layout of docs/tuf-repository.md, shared by the
// publisher, the staging server and the client. An explicit list: what is not here is internal.
import './linear-targets.js';

export {
  assertKeyModePrivate,
  computeKeyId,
  createSigner,
  generateEd25519KeyPair,
  keyIdOf,
  publicKeyFromTufKey,
  publicKeyOf,
  readPrivateKeyFile,
  readPublicKeyFile,
  tufKey,
  tufKeyJson,
  writePrivateKeyFile,
  writeKeyFileAtomic,
  writePublicKeyFile,
} from './keys.js';
export type { Ed25519KeyPair, KeyFileWrite, TufKeyJson } from './keys.js';

export {
  METADATA_DIR,
  TARGETS_DIR,
  TOP_LEVEL_ROLES,
  consistentTargetPath,
  delegationPaths,
  descriptorTargetPath,
  fileTargetPath,
  isSafeTargetPath,
  metadataFileName,
  parseMetadataFileName,
  parseRoleName,
  parseTargetPath,
  roleNameFor,
  snapshotMetaKey,
} from './layout.js';
export type { ParsedTargetPath, TopLevelRole } from './layout.js';

export {
  PATCHBAY_TARGETS_FIELD,
  UNAVAILABLE_SNAPSHOT_FIELD,
  catalogFromRoles,
  descriptorBytes,
  descriptorFromPatch,
  descriptorSchemaProblem,
  patchTargets,
  patchbayTargetsInfo,
  readDescriptors,
  unavailableTargets,
} from './descriptor.js';
export type {
  CatalogFromRolesInput,
  DescriptorFile,
  DescriptorRefusal,
  HeldBackPatch,
  PatchDescriptor,
  PatchbayTargetsInfo,
  RoleDescriptor,
  UnavailableTarget,
} from './descriptor.js';

export {
  SPEC_VERSION,
  addTargetFile,
  buildSnapshot,
  buildTimestamp,
  expiresAfter,
  listMetadataVersions,
  loadRepository,
  metadataBytes,
  metadataPath,
  newestVersion,
  nextVersion,
  parseMetadata,
  readMetadata,
  roleKind,
  signWith,
  targetFilePath,
  writeMetadata,
} from './repository.js';
export type { LoadedRepository } from './repository.js';

export { verifyRepository } from './verify.js';
export { directorySource } from './verify-source.js';
export type { RepositorySource } from './verify-source.js';
export { assertVerified, formatProblem } from './verify-result.js';
export type { VerifiedTargetFile, VerifyOptions, VerifyProblem, VerifyResult } from './verify-result.js';

export {
  OfflineFetcher,
  TufHttpFetcher,
  ensureTrustAnchor,
  loadDelegatedRole,
  refreshTrustedSet,
  rootVersionOf,
  trustedSetOf,
} from './tuf-client.js';
export type { RefreshedSet, TrustedSetView, TufHttpFetcherOptions } from './tuf-client.js';
// tuf-js's client workflow, from core's own copy: one DownloadHTTPError class for the fetcher
// and the Updater that checks it with instanceof (two copies would break the root walk's 404)
export { Updater } from 'tuf-js';
export type { Fetcher } from 'tuf-js';
