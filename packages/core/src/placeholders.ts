// STUB — implemented by the core-schema helper.

export interface PlaceholderContext {
  /** verified file name -> absolute path */
  files: Readonly<Record<string, string>>;
  installDir: string;
  release: string;
  patchId: string;
  dataDir: string;
}

/**
 * Expand {file:NAME}, {installDir}, {release}, {patchId}, {dataDir} in every argv element.
 * An unknown placeholder or a {file:NAME} not in `files` throws PB_ERR_PLACEHOLDER naming it.
 * Text outside braces is kept as is (no shell, no splitting).
 */
export function expandCommand(_argv: readonly string[], _ctx: PlaceholderContext): string[] {
  throw new Error('not implemented');
}

/** Same rules for a single string (detect paths). */
export function expandString(_value: string, _ctx: PlaceholderContext): string {
  throw new Error('not implemented');
}
