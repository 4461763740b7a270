// `patchbay-server import PATH` (issue 7): an export (directory, .tar, or the parts of a
// chunked one) or a plain vendor feed directory, merged into the mirror as a sync would.
import { errorMessage, ErrorCodes, isPatchbayError, type Logger, type ServerConfig } from '@patchbay/core';
import type { ImportResult } from './import-context.js';
import { runImport } from './import-run.js';

const PROGRAM = 'patchbay-server';

export function formatImport(r: ImportResult): string {
  if (r.tuf) {
    const t = r.tuf;
    const roles = Object.entries(t.roles).map(([role, version]) => `${role} ${version}`);
    const lines = [
      `import ok: TUF repository, targets version ${t.targetsVersion}${r.published ? '' : ' (imported before: nothing new)'}`,
      `  source:          ${r.source} (${r.kind})`,
      `  verified:        from upstream.trustedRoot: root ${t.rootVersion}, roles ${roles.join(', ') || 'none'}`,
      ...(t.skipped.length > 0
        ? [`  left out:        ${t.skipped.map((s) => `${s.role} (${s.reason})`).join(', ')}`]
        : []),
      `  files stored:    ${r.filesStored} (${r.bytesStored} bytes); already present: ${r.filesAlreadyPresent}` +
        (t.unavailable > 0 ? `; withheld: ${t.unavailable}` : ''),
      `  published:       snapshot ${t.snapshotVersion}, timestamp ${t.timestampVersion} (this server's online key); ` +
        `catalog sequence ${r.mirrorSequence}, ${r.patches} patches`,
    ];
    return `${lines.join('\n')}\n`;
  }
  const from = r.exporter ? `export of mirror ${r.exporter}` : 'feed directory';
  const base = r.baseSequence === null ? '' : ` (incremental since ${r.baseSequence})`;
  const lines = [
    `import ok: ${from}, sequence ${r.sequence}${base}${r.newFeed ? '' : ' (imported before)'}`,
    `  source:          ${r.source} (${r.kind})`,
    `  signature:       ${r.signatureVerified ? 'verified with upstream.publicKey' : 'not checked (upstream.publicKey is not set)'}`,
    `  files stored:    ${r.filesStored} (${r.bytesStored} bytes); already present: ${r.filesAlreadyPresent}`,
    `  mirror sequence: ${r.mirrorSequence}${r.published ? ' (published now)' : ' (unchanged)'}, ${r.patches} patches`,
  ];
  return `${lines.join('\n')}\n`;
}

/** Bad usage (a PATH that is not there or not a bundle) is exit 2; a refused bundle is exit 1. */
export async function runImportCommand(
  config: ServerConfig,
  logger: Logger,
  opts: { path: string; paths?: string[]; json: boolean },
): Promise<number> {
  const paths = opts.paths && opts.paths.length > 0 ? opts.paths : [opts.path];
  try {
    const result = await runImport(config, logger, paths);
    process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : formatImport(result));
    return 0;
  } catch (err) {
    const bad = isPatchbayError(err, ErrorCodes.USAGE) || isPatchbayError(err, ErrorCodes.CONFIG);
    const code = isPatchbayError(err) ? err.code : undefined;
    if (!bad) logger.error({ err: errorMessage(err), code }, 'import failed; the mirror is unchanged');
    if (opts.json)
      process.stdout.write(`${JSON.stringify({ outcome: 'failed', code, error: errorMessage(err) })}\n`);
    process.stderr.write(`${PROGRAM}: import${bad ? '' : ' refused'}: ${errorMessage(err)}\n`);
    return bad ? 2 : 1;
  }
}
