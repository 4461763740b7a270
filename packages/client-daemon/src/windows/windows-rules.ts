// The registry, msiProduct and msiPatch detect rules (docs/windows.md), over one RegQuery.
import { errorMessage, isPatchbayError } from '@patchbay/core';
import type { FileVersionOp, MsiPatchRule, MsiProductRule, RegistryRule } from '@patchbay/core';
import type { DetectOutcome } from '../detect-outcome.js';
import { parseDottedVersion, versionSatisfies } from '../pe-version.js';
import { msiPatchFacts, msiProductFacts } from './msi-lookup.js';
import type { RegQuery, RegValue } from './reg-query.js';

const viewOf = (rule: { view?: '64' | '32' }): '64' | '32' => rule.view ?? '64';

/** The data as the rule compares it: REG_DWORD/QWORD in decimal (reg.exe prints 0x hex). */
function comparableText(value: RegValue): string[] {
  if (value.type === 'REG_DWORD' || value.type === 'REG_QWORD') {
    return /^0x[0-9a-f]+$/i.test(value.data) ? [BigInt(value.data).toString()] : [value.data];
  }
  // each string of a REG_MULTI_SZ on its own: the rule names one of them
  if (value.type === 'REG_MULTI_SZ') return value.data === '' ? [] : value.data.split('\\0');
  return [value.data];
}

/**
 * A version read from the registry, compared; text that is not a dotted version is not installed.
 * `shown` says where it was read and what was there.
 */
function versionOutcome(read: string, shown: string, op: FileVersionOp, version: string): DetectOutcome {
  const actual = parseDottedVersion(read);
  if (!actual) return { installed: false, evidence: `${shown}: not a dotted version` };
  const installed = versionSatisfies(actual, op, parseDottedVersion(version) ?? []);
  return { installed, evidence: `${shown}, ${installed ? '' : 'not '}${op} ${version}` };
}

function failure(err: unknown, fields: Record<string, unknown>): DetectOutcome {
  const reason = errorMessage(err);
  return {
    installed: false,
    evidence: reason,
    failed: true,
    problem: {
      message: 'Windows detect rule could not be read; treating as not installed',
      fields: { ...fields, ...(isPatchbayError(err) ? err.context : {}), reason },
    },
  };
}

export async function registryOutcome(reg: RegQuery, rule: RegistryRule): Promise<DetectOutcome> {
  const view = viewOf(rule);
  const where = `${rule.key} (${view}-bit view)`;
  try {
    if (rule.value === undefined) {
      const answer = await reg({ key: rule.key, view });
      return { installed: answer.found, evidence: `${where}: key ${answer.found ? 'exists' : 'not found'}` };
    }
    const name = rule.value === '' ? '(Default)' : rule.value;
    const answer = await reg({ key: rule.key, view, value: rule.value });
    // Windows matches value names without regard to case, and reg.exe prints the stored spelling
    const value = !answer.found
      ? undefined
      : rule.value === ''
        ? answer.values[0]
        : answer.values.find((v) => v.name.toLowerCase() === name.toLowerCase());
    if (!value) return { installed: false, evidence: `${where}: value ${name} not found` };
    const texts = comparableText(value);
    const shown = `${rule.key}\\${name} = ${texts.join(' | ')} (${value.type}, ${view}-bit view)`;
    if (rule.equals !== undefined) {
      const installed = texts.includes(rule.equals);
      return { installed, evidence: `${shown}, ${installed ? 'equals' : 'not'} "${rule.equals}"` };
    }
    if (rule.op !== undefined && rule.version !== undefined) {
      if (value.type === 'REG_MULTI_SZ' || value.type === 'REG_BINARY' || texts.length !== 1) {
        return { installed: false, evidence: `${shown}: not a dotted version` };
      }
      return versionOutcome(texts[0]!, shown, rule.op, rule.version);
    }
    return { installed: true, evidence: shown };
  } catch (err) {
    return failure(err, { key: rule.key, view });
  }
}

export async function msiProductOutcome(reg: RegQuery, rule: MsiProductRule): Promise<DetectOutcome> {
  try {
    const facts = await msiProductFacts(reg, rule.productCode);
    const product = `MSI product ${rule.productCode}`;
    if (!facts.installed) return { installed: false, evidence: `${product} not installed for the machine` };
    const version = facts.version;
    const shown = `${product} installed${version ? `, version ${version.text} (${version.source})` : ''}`;
    if (rule.op === undefined || rule.version === undefined) return { installed: true, evidence: shown };
    if (!version) return { installed: false, evidence: `${shown}, but with no version` };
    return versionOutcome(version.text, shown, rule.op, rule.version);
  } catch (err) {
    return failure(err, { productCode: rule.productCode });
  }
}

export async function msiPatchOutcome(reg: RegQuery, rule: MsiPatchRule): Promise<DetectOutcome> {
  try {
    const facts = await msiPatchFacts(reg, rule.patchCode, rule.productCode);
    const patch = `MSI patch ${rule.patchCode}`;
    if (facts.states.length === 0)
      return { installed: false, evidence: `${patch}: no MSI product installed` };
    const shown = facts.states
      .filter((s) => rule.productCode !== undefined || s.state !== 'not registered')
      .map((s) => `${s.state} for ${s.productCode}`);
    return {
      installed: facts.applied,
      evidence: `${patch}: ${shown.length > 0 ? shown.join(', ') : `not registered for any of ${facts.states.length} product(s)`}`,
    };
  } catch (err) {
    return failure(err, {
      patchCode: rule.patchCode,
      ...(rule.productCode ? { productCode: rule.productCode } : {}),
    });
  }
}
