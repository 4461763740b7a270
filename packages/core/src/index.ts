// @patchbay/core: what the staging server, the client, the publisher and the sample feed
// import. An explicit list: what is not here is internal to core (its own tests and build
// script import the modules themselves). The TUF layout is the subpath @patchbay/core/tuf.

// Errors and logs
export { ErrorCodes, PatchbayError, errorMessage, isPatchbayError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { createLogger } from './logger.js';
export type { Logger } from './logger.js';
export { redactCredentials } from './redact.js';

// The documents: feed, catalog, report; their names, digests and signatures
export { EVENT_TYPES } from './types.js';
export type {
  Catalog,
  ClientReport,
  CommandSpec,
  DetectRule,
  EventType,
  Feed,
  FeedFile,
  FeedPatch,
  FeedProduct,
  FileVersionOp,
  MsiPatchRule,
  MsiProductRule,
  RegistryRule,
  PatchState,
  ReportEvent,
  ReportPatch,
  Severity,
} from './types.js';
export {
  catalogAsFeed,
  catalogSchemaId,
  parseCatalog,
  parseFeed,
  parseUpstreamDocument,
  validateFeed,
} from './feed.js';
export {
  EVENT_MESSAGE_MAX_CHARS,
  EVENT_OUTPUT_MAX_CHARS,
  HOST_ID_PATTERN,
  PATCH_REASON_MAX_CHARS,
  REPORT_SCHEMA,
  validateReport,
} from './report.js';
export { assertSafeFileName, isSafeFileName } from './names.js';
export { HASH_READ_BYTES, sha256File, sha256Hex } from './hash.js';
export {
  encodePublicKey,
  generateSigningKeyPair,
  keyFingerprint,
  parsePrivateKey,
  parsePublicKey,
  rotationStatement,
  signDetached,
  verifyDetached,
} from './signature.js';
export type { SigningKeyPair } from './signature.js';

// Which patches a host needs, in what order, and how their commands expand
export {
  dependantsWithin,
  evaluatePatches,
  installedDependants,
  isRelevant,
  resolveInstallOrder,
} from './resolver.js';
export type { HostKnowledge, HostProfile, InstallPlan, PatchEvaluation } from './resolver.js';
export { holdBack } from './hold-back.js';
export { expandCommand, expandString } from './placeholders.js';
export type { PlaceholderContext } from './placeholders.js';
export { exitCodeClass } from './exit-code-classes.js';
export type { ExitCodeClass } from './exit-code-classes.js';

// Files on disk: whole or not at all, private, content-addressed, with room to spare
export {
  atomicTempPath,
  fsyncDir,
  fsyncFile,
  readFileIfExists,
  readJsonFile,
  removeStaleAtomicTemps,
  writeFileAtomic,
} from './atomic-file.js';
export { ensureDataDir } from './data-dir.js';
export { assertOnlyAdminsCanRead } from './windows-acl.js'; // Windows' chmod 600 check
export { openRegularFile } from './regular-file.js'; // non-blocking open, a regular file only
export { systemToolPath } from './system-tool.js'; // reg, taskkill, icacls, whoami by full path on Windows
export { isInside, pathFor } from './platform-path.js'; // paths by a host platform's rules
export { processAlive } from './process-alive.js'; // a lock's holder still running?
export { acquireDataDirLock } from './data-dir-lock.js';
export type { DataDirLock, DataDirLockOptions, LockHolder } from './data-dir-lock.js';
export {
  PRIVATE_DIR_MODE,
  PRIVATE_FILE_MODE,
  ensurePrivateDir,
  ensurePrivateDirSync,
  narrowFilesToPrivate,
  narrowToPrivate,
  preparePrivateDatabase,
} from './private-files.js';
export { ContentStore, PARTIAL_STATE_SUFFIX, PARTIAL_SUFFIX } from './content-store.js';
export type { StoredBlob } from './content-store.js';
export { assertFreeSpace, diskFullError, isDiskFullError } from './free-space.js';
export { failpoint } from './failpoint.js';

// Fetching over http(s) and file: URLs, with retries
export { DEFAULT_STALL_TIMEOUT_MS, downloadBlob, fetchConditional } from './http-fetch.js';
export type { ConditionalResult, RetryOptions } from './http-fetch.js';
export { createDispatcher } from './dispatcher.js';
export { DEFAULT_RETRIES, DEFAULT_RETRY_BASE_MS, DEFAULT_RETRY_CAP_MS, backoffDelay } from './retry.js';
export type { UrlCheck } from './url-request.js';

// Answering a conditional GET (RFC 9110 §13, §14): 304, 412, 206 or 200
export {
  decideRange,
  evaluatePreconditions,
  ifNoneMatchMatches,
  ifRangeAllowsRange,
} from './conditional-request.js';
export type { ConditionalHeaders, EmptyRange, Precondition, RangeDecision } from './conditional-request.js';

// Mail (the server's notifications and the client's)
export {
  DEFAULT_SMTP_TIMEOUT_SECONDS,
  addressList,
  createSmtpTransport,
  sendOne,
  sendSettings,
} from './mail-transport.js';
export type { MailContent, MailTransport, SendResult, SendSettings } from './mail-transport.js';
export { escapeHtml, oneLine } from './mail-text.js';

// Terminal output of the CLIs
export { endQuietlyOnBrokenPipe } from './cli-output/broken-pipe.js';
export { waitForStopSignal } from './stop-signal.js';
export {
  integerOption,
  packageVersion,
  parseCommandLine,
  repeatableOption,
  withCommandLineConventions,
} from './cli-output/command-line.js';
export type { ConventionalProgram, ParsingProgram } from './cli-output/command-line.js';
export { formatError, nextStep, nextStepForMessage, usageHint } from './cli-output/next-step.js';
export type { NextStepContext } from './cli-output/next-step.js';
export { FileProgress, SyncProgress } from './cli-output/progress.js';
export type { BlobProgressListener } from './cli-output/progress.js';
export { formatTable } from './cli-output/table.js';
export type { TableCell } from './cli-output/table.js';
export { createStyle, progressEnabled, sanitizeTerminal, styleFor } from './cli-output/terminal.js';
export type { Color, Env, Style } from './cli-output/terminal.js';
export { formatBytes } from './cli-output/units.js';

// The client's config
export { CLIENT_CONFIG_DEFAULTS, loadClientConfig } from './config.js';
export type {
  ClientConfig,
  ClientPolicy,
  ClientProduct,
  DeepPartial,
  MaintenanceWindow,
  Weekday,
} from './config.js';

// The staging server's config: only the server (and the end-to-end tests that start one)
// imports these. It stays in core beside the client's: config.ts is the one loader for both
// (layers, schema, error format) and the client's notify settings are the server's shape.
export { SERVER_CONFIG_DEFAULTS, loadServerConfig, normaliseFeedUrl, normaliseOrigin } from './config.js';
export type { AuthConfig, NotifyConfig, RollupConfig, ServerConfig } from './config.js';
