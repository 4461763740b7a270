// What Windows Installer has installed for the machine, read from the registry where it keeps
// that state (the keys Wine's and ReactOS's msi.dll open in registry.c: MSIREG_OpenInstallProps,
// MSIREG_OpenUserDataProductPatchesKey), never through WMI's Win32_Product, whose every query
// makes Windows Installer check, and "repair", each product it lists.
import { ErrorCodes, PatchbayError } from '@patchbay/core';
import type { RegQuery } from './reg-query.js';

/** Per-machine installs are registered under LocalSystem's SID; always in the 64-bit view. */
const MSI_MACHINE_PRODUCTS =
  'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Installer\\UserData\\S-1-5-18\\Products';

const GUID = /^\{([0-9A-F]{8})-([0-9A-F]{4})-([0-9A-F]{4})-([0-9A-F]{4})-([0-9A-F]{12})\}$/i;
const PACKED = /^[0-9A-F]{32}$/i;

/** MsiGetPatchInfoEx's INSTALLPROPERTY_PATCHSTATE values (msi.h MSIPATCHSTATE_*). */
const PATCH_STATES: Record<number, string> = { 1: 'applied', 2: 'superseded', 4: 'obsoleted' };
const MSIPATCHSTATE_APPLIED = 1;

const reverse = (text: string): string => [...text].reverse().join('');
const swapPairs = (text: string): string => text.replace(/(.)(.)/g, '$2$1');

/**
 * The "packed" (squashed) GUID Windows Installer names its registry keys with: the first three
 * groups reversed, each byte of the last two with its hex digits swapped, no braces or dashes.
 * {1D643CD4-4DD6-11D7-A4E0-000874180BB3} → 4DC346D16DD47D114A0E00804781B03B.
 */
export function packGuid(guid: string): string {
  const parts = GUID.exec(guid);
  if (!parts) {
    throw new PatchbayError(ErrorCodes.FEED_SCHEMA, `"${guid}" is not a {GUID} product or patch code`, {
      guid,
    });
  }
  const [, a, b, c, d, e] = parts as unknown as [string, string, string, string, string, string];
  return (reverse(a) + reverse(b) + reverse(c) + swapPairs(d + e)).toUpperCase();
}

/** The {GUID} a packed key name stands for (the transform is its own inverse, group by group). */
export function unpackGuid(packed: string): string {
  if (!PACKED.test(packed)) throw new Error(`"${packed}" is not a packed GUID (32 hex digits)`);
  const p = packed.toUpperCase();
  const tail = swapPairs(p.slice(16));
  return `{${reverse(p.slice(0, 8))}-${reverse(p.slice(8, 12))}-${reverse(p.slice(12, 16))}-${tail.slice(0, 4)}-${tail.slice(4)}}`;
}

export type MsiProductFacts =
  | { installed: false; key: string }
  | { installed: true; key: string; version?: { text: string; source: string } };

/** InstallProperties' Version DWORD: major in the top byte, minor in the next, build in the low word. */
function versionFromDword(data: string): string | undefined {
  const n = Number.parseInt(data, 16);
  if (!/^0x[0-9a-f]+$/i.test(data) || !Number.isSafeInteger(n)) return undefined;
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${n & 0xffff}`;
}

/**
 * A product installed for the machine, and its version: DisplayVersion (the package's
 * ProductVersion as text, what MsiGetProductInfo's VersionString returns), else the Version DWORD.
 */
export async function msiProductFacts(reg: RegQuery, productCode: string): Promise<MsiProductFacts> {
  const key = `${MSI_MACHINE_PRODUCTS}\\${packGuid(productCode)}\\InstallProperties`;
  const answer = await reg({ key, view: '64' });
  if (!answer.found) return { installed: false, key };
  const named = (name: string): string | undefined =>
    answer.values.find((v) => v.name.toLowerCase() === name.toLowerCase())?.data;
  const display = named('DisplayVersion');
  if (display) return { installed: true, key, version: { text: display, source: 'DisplayVersion' } };
  const packed = named('Version');
  const fromDword = packed === undefined ? undefined : versionFromDword(packed);
  return fromDword
    ? { installed: true, key, version: { text: fromDword, source: `Version ${packed}` } }
    : { installed: true, key };
}

export interface MsiPatchFacts {
  /** State 1 (applied) for at least one product */
  applied: boolean;
  /** per product looked at: its code and the patch's state there ("not registered" when absent) */
  states: { productCode: string; state: string }[];
}

async function patchStateFor(reg: RegQuery, productKey: string, packedPatch: string): Promise<string> {
  const answer = await reg({ key: `${productKey}\\Patches\\${packedPatch}`, view: '64', value: 'State' });
  const state = answer.found ? answer.values[0] : undefined;
  if (!state) return 'not registered';
  const n = state.type === 'REG_DWORD' ? Number.parseInt(state.data, 16) : Number.NaN;
  if (!Number.isInteger(n)) return `State ${state.data} (${state.type})`;
  return PATCH_STATES[n] ?? `state ${n}`;
}

/**
 * A patch's state for one product, or for every product installed for the machine (one reg.exe
 * for the list of products, then one per product). Only State 1 counts as applied: a superseded
 * or obsoleted patch is still registered, but another patch now decides what the host runs.
 */
export async function msiPatchFacts(
  reg: RegQuery,
  patchCode: string,
  productCode?: string,
): Promise<MsiPatchFacts> {
  const packedPatch = packGuid(patchCode);
  let products: string[];
  if (productCode !== undefined) {
    products = [`${MSI_MACHINE_PRODUCTS}\\${packGuid(productCode)}`];
  } else {
    const list = await reg({ key: MSI_MACHINE_PRODUCTS, view: '64' });
    products = list.found ? list.subkeys.filter((k) => PACKED.test(k.slice(k.lastIndexOf('\\') + 1))) : [];
  }
  const states = await Promise.all(
    products.map(async (productKey) => ({
      productCode: unpackGuid(productKey.slice(productKey.lastIndexOf('\\') + 1)),
      state: await patchStateFor(reg, productKey, packedPatch),
    })),
  );
  return { applied: states.some((s) => s.state === PATCH_STATES[MSIPATCHSTATE_APPLIED]), states };
}
