/**
 * feed.json with a stable key order: the order of CONTRACT §1 for the keys it names, then any
 * other keys sorted. The same feed object always gives the same bytes, whatever order its
 * properties were created in, so generated feeds are byte-for-byte reproducible.
 */

const FEED_KEYS = ['format', 'vendor', 'sequence', 'generatedAt', 'products', 'patches'];
const PRODUCT_KEYS = ['id', 'name', 'releases'];
const PATCH_KEYS = [
  'id',
  'product',
  'release',
  'title',
  'description',
  'severity',
  'publishedAt',
  'requires',
  'supersedes',
  'rebootRequired',
  'platforms',
  'files',
  'install',
  'uninstall',
  'detect',
];
const FILE_KEYS = ['name', 'url', 'size', 'sha256'];
const COMMAND_KEYS = ['command', 'timeoutSeconds', 'successExitCodes', 'rebootExitCodes', 'retryExitCodes'];
const DETECT_KEYS = [
  'fileExists',
  'fileSha256',
  'fileVersion',
  'registry',
  'msiProduct',
  'msiPatch',
  'command',
  'installedExitCodes',
];
/** Each object-valued detect rule's own key order. */
const DETECT_RULE_KEYS: Record<string, readonly string[]> = {
  fileSha256: ['path', 'sha256'],
  fileVersion: ['path', 'op', 'version'],
  registry: ['key', 'view', 'value', 'equals', 'op', 'version'],
  msiProduct: ['productCode', 'op', 'version'],
  msiPatch: ['patchCode', 'productCode'],
};

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Keys in `preferred` order first, the rest sorted; nested unknown objects fully sorted. */
function ordered(value: unknown, preferred: readonly string[] = []): Json {
  if (Array.isArray(value)) return value.map((item) => ordered(item));
  if (!isPlainObject(value)) return value as Json;
  const keys = Object.keys(value).filter((key) => value[key] !== undefined);
  const known = preferred.filter((key) => keys.includes(key));
  const rest = keys.filter((key) => !preferred.includes(key)).sort();
  const out: { [key: string]: Json } = {};
  for (const key of [...known, ...rest]) out[key] = ordered(value[key]);
  return out;
}

function orderedList(value: unknown, order: (item: unknown) => Json): Json {
  return Array.isArray(value) ? value.map(order) : ordered(value);
}

function orderPatch(patch: unknown): Json {
  const top = ordered(patch, PATCH_KEYS);
  if (!isPlainObject(top) || !isPlainObject(patch)) return top;
  top.files = orderedList(patch.files, (file) => ordered(file, FILE_KEYS));
  if (patch.install !== undefined) top.install = ordered(patch.install, COMMAND_KEYS);
  if (patch.uninstall !== undefined) top.uninstall = ordered(patch.uninstall, COMMAND_KEYS);
  if (patch.detect !== undefined) {
    const detect = ordered(patch.detect, DETECT_KEYS);
    if (isPlainObject(detect) && isPlainObject(patch.detect)) {
      for (const [kind, keys] of Object.entries(DETECT_RULE_KEYS)) {
        if (patch.detect[kind] !== undefined) detect[kind] = ordered(patch.detect[kind], keys);
      }
    }
    top.detect = detect;
  }
  if (patch.files === undefined) delete top.files;
  return top;
}

/** Pretty (2-space) JSON of a feed with a trailing newline and a stable key order. */
export function stringifyFeed(feed: unknown): string {
  const top = ordered(feed, FEED_KEYS);
  if (isPlainObject(top) && isPlainObject(feed)) {
    if (feed.products !== undefined) {
      top.products = orderedList(feed.products, (product) => ordered(product, PRODUCT_KEYS));
    }
    if (feed.patches !== undefined) top.patches = orderedList(feed.patches, orderPatch);
  }
  return `${JSON.stringify(top, null, 2)}\n`;
}
