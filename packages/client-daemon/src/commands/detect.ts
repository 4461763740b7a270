import { ErrorCodes, PatchbayError, errorMessage, isPatchbayError, validateFeed } from '@patchbay/core';
import type { DetectRule, FeedPatch, PlaceholderContext } from '@patchbay/core';
import { evaluateDetectRule, ruleKind } from '../detect-rule.js';
import { assertProductsKnown, hostProfile, placeholderContext } from '../host.js';
import { cachedFiles } from '../inventory.js';
import { assertForThisHost, assertKnownIds, relevantPatches } from '../planner.js';
import type { Session } from '../session.js';
import { warnIfExpired } from './common.js';
import type { CommandArgs } from './common.js';

/** One line of `detect --json`. */
export interface DetectRow {
  patchId?: string;
  /** null: the patch has no detect rule (the ledger decides) */
  rule: DetectRule | null;
  installed: boolean | null;
  evidence: string;
  /** the rule could not be evaluated (reg.exe refused, a placeholder): the command exits 1 */
  failed?: true;
}

/** Where the schema's complaint about the wrapped rule points, said of --rule itself. */
const WRAPPED_RULE = '/patches/0/detect';

/**
 * An ad-hoc rule, checked by the feed schema's own `detect` definition: wrapped in a one-patch
 * feed for the compiled feed validator (no second compiled schema to keep in step with it).
 * A bad rule is a usage error (exit 2) naming the field; so is a `command` rule, which would run a
 * program no publisher signed (CONTRACT §5).
 */
export function parseRuleOption(text: string): DetectRule {
  let rule: unknown;
  try {
    rule = JSON.parse(text);
  } catch (err) {
    throw new PatchbayError(ErrorCodes.USAGE, `--rule: not JSON (${errorMessage(err)})`, { flag: '--rule' });
  }
  const at = '2026-01-01T00:00:00Z';
  const patch = {
    id: 'RULE',
    product: 'p',
    release: '1',
    title: 'rule',
    severity: 'optional',
    publishedAt: at,
  };
  const products = [{ id: 'p', name: 'p', releases: ['1'] }];
  try {
    validateFeed(
      {
        format: 'patchbay-feed/1',
        vendor: 'detect',
        sequence: 1,
        generatedAt: at,
        products,
        patches: [{ ...patch, files: [], install: { command: ['x'] }, detect: rule }],
      },
      '--rule',
    );
  } catch (err) {
    if (!isPatchbayError(err)) throw err;
    const path = String(err.context.path ?? WRAPPED_RULE).replace(WRAPPED_RULE, '') || '/';
    const message =
      err.context.rule === 'not' && path === '/registry'
        ? '--rule: /registry takes "equals" or "op" with "version", not both'
        : err.message.replace(`${WRAPPED_RULE}/`, '/').replace(` ${WRAPPED_RULE} `, ' the rule ');
    throw new PatchbayError(ErrorCodes.USAGE, message, { flag: '--rule', field: path });
  }
  if (typeof rule === 'object' && rule !== null && 'command' in rule) {
    // CONTRACT §5: a detect command runs only from verified targets metadata, never from a flag
    throw new PatchbayError(
      ErrorCodes.USAGE,
      '--rule: a command rule is not run from the command line (a detect command runs only from signed metadata: use detect ID)',
      { flag: '--rule', field: '/command' },
    );
  }
  return rule as DetectRule;
}

/** Placeholder values for an ad-hoc rule: the named product's (default: the first configured). */
function adHocContext(session: Session, productId: string | undefined): PlaceholderContext {
  const { products, dataDir } = session.config;
  const product = productId === undefined ? products[0] : products.find((p) => p.id === productId);
  if (!product) {
    throw new PatchbayError(
      ErrorCodes.UNKNOWN_PRODUCT,
      `--product ${productId ?? ''}: not a product of this host's config (configured: ${products.map((p) => p.id).join(', ') || 'none'})`,
      { flag: '--product' },
    );
  }
  return { files: {}, installDir: product.installDir, release: product.release, patchId: 'RULE', dataDir };
}

async function evaluateRow(rule: DetectRule, ctx: PlaceholderContext, patchId?: string): Promise<DetectRow> {
  const row = (fields: Omit<DetectRow, 'rule'>): DetectRow => ({
    ...(patchId !== undefined ? { patchId } : {}),
    rule,
    ...fields,
  });
  try {
    const outcome = await evaluateDetectRule(rule, ctx);
    return row({
      installed: outcome.installed,
      evidence: outcome.evidence,
      ...(outcome.failed ? { failed: true as const } : {}),
    });
  } catch (err) {
    return row({ installed: false, evidence: errorMessage(err), failed: true });
  }
}

/** The relevant patches of the cached catalog (or those named), each rule evaluated in turn. */
async function catalogRows(session: Session, ids: readonly string[]): Promise<DetectRow[]> {
  const loaded = await session.catalogSource.cachedOrThrow();
  warnIfExpired(session, loaded);
  const { catalog } = loaded;
  assertProductsKnown(session.config, catalog);
  const host = hostProfile(session.config);
  if (ids.length > 0) {
    assertKnownIds(catalog, ids, host);
    assertForThisHost(catalog, ids, host);
  }
  const wanted = new Set(ids);
  const patches = relevantPatches(catalog, host).filter((p) => wanted.size === 0 || wanted.has(p.id));
  const rows: DetectRow[] = [];
  // one at a time: a vendor's detect command may not expect company, and this is a diagnosis
  for (const patch of patches) rows.push(await patchRow(session, patch));
  return rows;
}

function patchRow(session: Session, patch: FeedPatch): Promise<DetectRow> | DetectRow {
  if (!patch.detect) {
    return { patchId: patch.id, rule: null, installed: null, evidence: 'no detect rule: the ledger decides' };
  }
  return evaluateRow(
    patch.detect,
    placeholderContext(session.config, patch, cachedFiles(session.store, patch)),
    patch.id,
  );
}

/**
 * detect: evaluate detect rules and show what each read, for admins writing feeds: those of
 * the cached catalog's patches for this host (or the ids named), or one `--rule` given as JSON.
 * Exit 0 whatever is installed; 1 when a rule could not be evaluated.
 */
export async function detectCommand(session: Session, args: CommandArgs): Promise<number> {
  if (args.rule === undefined && args.product !== undefined) {
    throw new PatchbayError(ErrorCodes.USAGE, '--product goes with --rule', { flag: '--product' });
  }
  if (args.rule !== undefined && args.positionals.length > 0) {
    throw new PatchbayError(ErrorCodes.USAGE, 'detect: name patch ids or give --rule, not both', {
      flag: '--rule',
    });
  }
  const rows =
    args.rule !== undefined
      ? [await evaluateRow(parseRuleOption(args.rule), adHocContext(session, args.product))]
      : await catalogRows(session, args.positionals);
  session.out.document(rows);
  session.out.tableOr(
    ['PATCH', 'RULE', 'INSTALLED', 'EVIDENCE'],
    rows.map((r) => [
      r.patchId ?? '-',
      r.rule ? ruleKind(r.rule) : '-',
      r.failed ? 'failed' : r.installed === null ? '-' : r.installed ? 'yes' : 'no',
      r.evidence,
    ]),
    'no patches for this host',
  );
  return rows.some((r) => r.failed) ? 1 : 0;
}
