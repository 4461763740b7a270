// <dataDir>/exchange/imports.json: every bundle this mirror imported, so an incremental
// export can be checked against its base (and an operator can see what came from where).
import { join } from 'node:path';
import { readJsonFile, writeFileAtomic } from '@patchbay/core';

export const IMPORTS_FILE = join('exchange', 'imports.json');

export interface ImportRecord {
  /** fingerprint of the exporting mirror's key; null for a plain vendor feed directory */
  exporter: string | null;
  vendor: string;
  /** feed.json's sequence (the exporting mirror's catalog sequence for an export) */
  sequence: number;
  baseSequence: number | null;
  importedAt: string;
  kind: string;
  source: string;
  /** files stored by this import, and their bytes */
  files: number;
  bytes: number;
}

interface ImportsDocument {
  format: 'patchbay-imports/1';
  imports: ImportRecord[];
}

export class ImportRecords {
  readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, IMPORTS_FILE);
  }

  async list(): Promise<ImportRecord[]> {
    const doc = await readJsonFile<ImportsDocument>(this.path);
    return Array.isArray(doc?.imports) ? doc.imports : [];
  }

  /** Add a record, unless the same bundle (exporter, vendor, sequence) was recorded before: a re-import keeps the first. */
  async add(record: ImportRecord): Promise<void> {
    const records = await this.list();
    const same = (r: ImportRecord) =>
      r.exporter === record.exporter && r.sequence === record.sequence && r.vendor === record.vendor;
    if (records.some(same)) return;
    const doc: ImportsDocument = { format: 'patchbay-imports/1', imports: [...records, record] };
    await writeFileAtomic(this.path, `${JSON.stringify(doc, null, 2)}\n`);
  }
}

/**
 * The base an incremental export needs: an earlier import from the same exporting mirror
 * at the base sequence or later (a later one carried every file the base had that is
 * still published; the per-file check after this catches the rest).
 */
export function findBase(
  records: readonly ImportRecord[],
  exporter: string,
  baseSequence: number,
): ImportRecord | undefined {
  return records.find((r) => r.exporter === exporter && r.sequence >= baseSequence);
}
