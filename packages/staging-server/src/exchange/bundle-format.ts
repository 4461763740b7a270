// The offline bundle that `export` writes and `import` reads (docs/topologies.md):
// a vendor feed directory (feed.json, feed.json.sig, files/<sha256>/<name>) plus a
// signed manifest, export.json, that says who exported what and on top of which base.
import { ErrorCodes, PatchbayError } from '@patchbay/core';

export const FEED_FILE = 'feed.json';
export const FEED_SIGNATURE_FILE = 'feed.json.sig';
export const MANIFEST_FILE = 'export.json';
export const MANIFEST_SIGNATURE_FILE = 'export.json.sig';
/** beside the parts of a chunked export: their names, sizes and digests */
export const PARTS_INDEX_FILE = 'parts.json';

export const MANIFEST_FORMAT = 'patchbay-export/1';
export const PARTS_FORMAT = 'patchbay-export-parts/1';

export interface ExportedFile {
  /** relative to the bundle root, '/'-separated */
  path: string;
  sha256: string;
  size: number;
}

export interface ExportManifest {
  format: typeof MANIFEST_FORMAT;
  /** the exporting mirror's signing key (what the importing side sets as upstream.publicKey) */
  exporter: { fingerprint: string; publicKey: string };
  /** the exporting mirror's catalog sequence; also feed.json's sequence */
  sequence: number;
  /** the vendor feed sequence that catalog reflected */
  upstreamSequence: number;
  /** incremental exports: the mirror sequence the bundle builds on (its files are left out) */
  baseSequence: number | null;
  createdAt: string;
  /** the --product / --release selection (empty = everything published) */
  filter: { products: string[]; releases: string[] };
  feed: { sha256: string; size: number };
  /** the files in this bundle (an incremental leaves out those its base already carried) */
  files: ExportedFile[];
  /** sum of the files' sizes */
  bytes: number;
}

export interface PartEntry {
  name: string;
  size: number;
  sha256: string;
}

export interface PartsIndex {
  format: typeof PARTS_FORMAT;
  sequence: number;
  baseSequence: number | null;
  /** each part is at most this many bytes */
  chunkSize: number;
  parts: PartEntry[];
}

/** Where a blob lives inside a bundle: one copy per digest, under its (first) file name. */
export function bundleFilePath(sha256: string, name: string): string {
  return `files/${sha256}/${name}`;
}

/** `export-12.tar.part-002-of-005`: any one part says which export it belongs to and how many there are. */
export function partName(
  sequence: number,
  baseSequence: number | null,
  index: number,
  count: number,
): string {
  const width = Math.max(3, String(count).length);
  const pad = (n: number) => String(n).padStart(width, '0');
  const base = baseSequence === null ? '' : `-since-${baseSequence}`;
  return `export-${sequence}${base}.tar.part-${pad(index)}-of-${pad(count)}`;
}

const PART_NAME = /^(.+\.tar)\.part-(\d{3,})-of-(\d{3,})$/;

export interface ParsedPartName {
  /** the tar the parts make together, e.g. export-12.tar */
  archive: string;
  index: number;
  count: number;
}

export function parsePartName(name: string): ParsedPartName | null {
  const match = PART_NAME.exec(name);
  if (!match) return null;
  const index = Number(match[2]);
  const count = Number(match[3]);
  if (index < 1 || count < 1 || index > count) return null;
  return { archive: match[1]!, index, count };
}

function refused(source: string, reason: string): PatchbayError {
  return new PatchbayError(ErrorCodes.IMPORT_REFUSED, `${source}: ${reason}`, { source });
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isHex = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);

function parseJson(bytes: Buffer, source: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw refused(source, `not valid JSON: ${(err as Error).message}`);
  }
}

/** Parse and check export.json; anything malformed is PB_ERR_IMPORT_REFUSED naming the field. */
export function parseManifest(bytes: Buffer, source: string): ExportManifest {
  const value = parseJson(bytes, source);
  const m = value as Partial<ExportManifest> | null;
  if (typeof m !== 'object' || m === null) throw refused(source, 'not a JSON object');
  if (m.format !== MANIFEST_FORMAT) {
    throw refused(source, `/format must be "${MANIFEST_FORMAT}", got ${JSON.stringify(m.format)}`);
  }
  if (typeof m.exporter?.fingerprint !== 'string' || typeof m.exporter.publicKey !== 'string') {
    throw refused(source, '/exporter must name the exporting key (fingerprint, publicKey)');
  }
  if (!isCount(m.sequence) || m.sequence < 1) throw refused(source, '/sequence must be a positive integer');
  if (m.baseSequence !== null && (!isCount(m.baseSequence) || m.baseSequence >= m.sequence)) {
    throw refused(source, '/baseSequence must be null or a sequence lower than /sequence');
  }
  if (!isHex(m.feed?.sha256) || !isCount(m.feed.size)) {
    throw refused(source, '/feed must give the sha256 and size of feed.json');
  }
  if (!Array.isArray(m.files)) throw refused(source, '/files must be an array');
  m.files.forEach((file, i) => {
    if (typeof file?.path !== 'string' || !isHex(file.sha256) || !isCount(file.size)) {
      throw refused(source, `/files/${i} must have a path, sha256 and size`);
    }
  });
  return m as ExportManifest;
}

/** Parse parts.json (an integrity aid beside a chunked export's parts). */
export function parsePartsIndex(bytes: Buffer, source: string): PartsIndex {
  const value = parseJson(bytes, source);
  const index = value as Partial<PartsIndex> | null;
  if (index?.format !== PARTS_FORMAT || !Array.isArray(index.parts)) {
    throw refused(source, `not a ${PARTS_FORMAT} document`);
  }
  for (const part of index.parts) {
    if (typeof part?.name !== 'string' || !isCount(part.size) || !isHex(part.sha256)) {
      throw refused(source, 'every part needs a name, size and sha256');
    }
  }
  return index as PartsIndex;
}

/**
 * Magic numbers of the compressors a tar may come wrapped in (bundles are plain tar): gzip and
 * zstd, which node-tar unpacks without being asked, and xz, for a clear refusal. (bzip2's "BZh"
 * could start a plain tar's first file name.)
 */
const COMPRESSION_MAGIC: readonly { name: string; magic: Buffer }[] = [
  { name: 'gzip', magic: Buffer.from([0x1f, 0x8b]) },
  { name: 'zstd', magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]) },
  { name: 'xz', magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) },
];

/** Bytes at the start of a file that compressionOf needs to see. */
export const COMPRESSION_SNIFF_BYTES = 6;

/** The compression `head` (a file's first bytes) starts with, or null for none known. */
export function compressionOf(head: Buffer): string | null {
  const found = COMPRESSION_MAGIC.find(({ magic }) => head.subarray(0, magic.length).equals(magic));
  return found?.name ?? null;
}

/** Deterministic JSON bytes: the same content always gives the same bytes (and signature). */
export function jsonBytes(value: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8');
}
