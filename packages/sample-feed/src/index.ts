export {
  writeFeedDirectory,
  type FeedFileInput,
  type FeedInput,
  type FeedPatchInput,
  type WriteFeedDirectoryOptions,
  type WrittenFeedDirectory,
  type WrittenFile,
} from './feed-writer.js';
export { stringifyFeed } from './stable-json.js';
export {
  generateSampleFeed,
  buildSampleFeed,
  samplePatches,
  DEFAULT_SAMPLE_SEQUENCE,
  type GenerateSampleFeedOptions,
  type SampleFeedContent,
} from './sample-feed.js';
export {
  SAMPLE_PATCHES,
  EXTRA_SAMPLE_PATCHES,
  SAMPLE_PRODUCTS,
  SAMPLE_VENDOR,
  type SamplePatch,
} from './sample-patches.js';
export { versionStampContent, versionStampPath } from './payload-script.js';
export { renderPatchTable } from './patch-table.js';
export {
  defaultSampleFeedDir,
  defaultSampleRepositoryDir,
  demoKeysDir,
  demoPublisherKeyFiles,
  demoVendorKeyFiles,
} from './paths.js';
export {
  startUpstreamServer,
  createUpstreamHandler,
  type UpstreamServer,
  type UpstreamServerOptions,
  type UpstreamHandlerOptions,
  type RequestHandler,
} from './upstream-server.js';
export {
  buildSampleRepository,
  secureDemoKeys,
  DEFAULT_RENEW_DAYS,
  SAMPLE_REPOSITORY_EXPIRES,
  type BuildSampleRepositoryOptions,
  type SampleRepositoryResult,
} from './sample-repository.js';
