// Private data on Windows, where POSIX modes do nothing (Node reports every file 0666): the data
// directory is restricted with icacls when it is made, and a secret file (the report token) is
// refused when its ACL lets anyone but SYSTEM, Administrators or the account running patchbay
// read it. icacls and whoami run as argv, never through a shell. Principals are given by SID
// where patchbay names them (`*S-1-5-18`), as account names differ by the system's language.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { ErrorCodes, PatchbayError, errorMessage } from './errors.js';
import type { ErrorCode } from './errors.js';
import { systemToolPath } from './system-tool.js';

const execFileAsync = promisify(execFile);
/** icacls on a file share that does not answer must not hold a start for ever */
const TOOL_TIMEOUT_MS = 30_000;
/** latin1: icacls and whoami write the OEM code page; read byte for byte, names compare alike */
const WINDOWS_TOOL = { windowsHide: true, encoding: 'latin1', timeout: TOOL_TIMEOUT_MS } as const;

const SYSTEM_SID = 'S-1-5-18';
const ADMINISTRATORS_SID = 'S-1-5-32-544';
/** The English names icacls shows for the two (a localized system's names come from whoami). */
const ADMIN_NAMES = ['NT AUTHORITY\\SYSTEM', 'BUILTIN\\Administrators'];
/** Rights in an icacls ACE that let the principal read the file's data. */
const READ_RIGHTS = new Set(['F', 'M', 'RX', 'R', 'GR', 'GA', 'RD']);

/**
 * The argv that makes `dir` private: nothing inherited; full control, passed on to everything
 * below, for SYSTEM, Administrators and `ownSid` (the account running patchbay, which must
 * not lock itself out when it is, say, LocalService).
 */
function privateDirIcaclsArgs(dir: string, ownSid: string): string[] {
  return [dir, '/inheritance:r', '/grant:r', ...privateGrants(ownSid, '(OI)(CI)F')];
}

/** `*SID:RIGHTS` for SYSTEM, Administrators and the running account (once each). */
function privateGrants(ownSid: string | undefined, rights: string): string[] {
  const sids = new Set([SYSTEM_SID, ADMINISTRATORS_SID]);
  if (ownSid?.startsWith('S-1-')) sids.add(ownSid);
  return [...sids].map((sid) => `*${sid}:${rights}`);
}

/** A failed child process as one line: its exit code and output. */
function describeFailure(program: string, err: unknown): string {
  const { code, stdout, stderr } = err as { code?: unknown; stdout?: string; stderr?: string };
  const output = `${stdout ?? ''}${stderr ?? ''}`.trim();
  return `${program} ${typeof code === 'number' ? `exit ${code}` : errorMessage(err)}${output ? `: ${output}` : ''}`;
}

/**
 * `icacls DIR /inheritance:r /grant:r *S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F` (and the
 * running account's SID, from whoami): what mkdir's mode 0700 is on POSIX. Throws the reason.
 */
export async function restrictDirToAdmins(dir: string): Promise<void> {
  let ownSid: string | undefined;
  try {
    const { stdout } = await execFileAsync(
      systemToolPath('whoami'),
      ['/user', '/fo', 'csv', '/nh'],
      WINDOWS_TOOL,
    );
    ownSid = csvRows(stdout)[0]?.[1];
  } catch (err) {
    throw new Error(`cannot tell which account runs patchbay (${describeFailure('whoami', err)})`, {
      cause: err,
    });
  }
  if (!ownSid?.startsWith('S-1-'))
    throw new Error(`cannot tell which account runs patchbay (whoami /user gave no SID)`);
  try {
    await execFileAsync(systemToolPath('icacls'), privateDirIcaclsArgs(dir, ownSid), WINDOWS_TOOL);
  } catch (err) {
    throw new Error(
      `could not restrict it to SYSTEM and Administrators (${describeFailure('icacls', err)})`,
      {
        cause: err,
      },
    );
  }
}

export interface AclEntry {
  principal: string;
  /** the parenthesised parts, e.g. ['I', 'RX'] or ['OI', 'CI', 'F'] or ['DENY', 'R'] */
  parts: string[];
}

/**
 * The ACEs of `icacls FILE`'s output: the first line is FILE then its first ACE, each further
 * ACE on a line of its own, a blank line before the summary.
 */
export function parseIcaclsOutput(output: string, file: string): AclEntry[] {
  const lines = output.replace(/\r/g, '').split('\n');
  const first = lines[0] ?? '';
  if (!first.toLowerCase().startsWith(file.toLowerCase())) {
    throw new Error(`icacls output does not start with the file's name: ${first}`);
  }
  const entries: AclEntry[] = [];
  const aceLines = [first.slice(file.length), ...lines.slice(1)];
  for (const raw of aceLines) {
    const line = raw.trim();
    if (line === '') break;
    const ace = /^(.+?):((?:\([^()]*\))+)$/.exec(line);
    if (!ace) throw new Error(`not an icacls access entry: ${line}`);
    const parts = [...(ace[2] ?? '').matchAll(/\(([^()]*)\)/g)].map((m) => m[1] ?? '');
    entries.push({ principal: ace[1] ?? '', parts });
  }
  return entries;
}

/** Rights that let the principal read the object itself (not an inherit-only or deny entry). */
function grantsRead(entry: AclEntry): boolean {
  if (entry.parts.includes('DENY') || entry.parts.includes('IO')) return false;
  return entry.parts.some((part) => part.split(',').some((right) => READ_RIGHTS.has(right)));
}

/** CSV rows of `whoami … /fo csv /nh`: each field unquoted. */
function csvRows(output: string): string[][] {
  return output
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '')
    .map((line) => line.replace(/^"|"$/g, '').split('","'));
}

/**
 * Who may read a secret: SYSTEM and Administrators (by their English names, their SIDs, and
 * the names this system gives them per whoami) and the account running patchbay.
 */
export function allowedReaders(whoamiUser: string, whoamiGroups: string): Set<string> {
  const allowed = new Set(
    [...ADMIN_NAMES, `*${SYSTEM_SID}`, `*${ADMINISTRATORS_SID}`].map((n) => n.toLowerCase()),
  );
  const [user] = csvRows(whoamiUser);
  if (user?.[0]) allowed.add(user[0].toLowerCase());
  for (const [name, , sid] of csvRows(whoamiGroups)) {
    if (name && (sid === SYSTEM_SID || sid === ADMINISTRATORS_SID)) allowed.add(name.toLowerCase());
  }
  return allowed;
}

/**
 * The first principal besides SYSTEM, Administrators and the running account that may read
 * `file`, with its rights as icacls writes them; undefined when there is none.
 */
export function otherReader(
  entries: readonly AclEntry[],
  allowed: ReadonlySet<string>,
): AclEntry | undefined {
  return entries.find((entry) => grantsRead(entry) && !allowed.has(entry.principal.toLowerCase()));
}

function run(program: string, args: string[]): string {
  return execFileSync(systemToolPath(program), args, { ...WINDOWS_TOOL, stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Windows' `chmod 600` check for a secret file (`key` names the config key, e.g. tokenFile):
 * `code` (PB_ERR_CONFIG by default) naming the file and the principal that may read it, and the
 * icacls that fixes it; also when icacls or whoami cannot tell.
 */
export function assertOnlyAdminsCanRead(
  file: string,
  key: string,
  context: Record<string, unknown> = {},
  code: ErrorCode = ErrorCodes.CONFIG,
): void {
  let entries: AclEntry[];
  let allowed: Set<string>;
  let ownSid: string | undefined;
  try {
    entries = parseIcaclsOutput(run('icacls', [file]), file);
    const user = run('whoami', ['/user', '/fo', 'csv', '/nh']);
    ownSid = csvRows(user)[0]?.[1];
    allowed = allowedReaders(user, run('whoami', ['/groups', '/fo', 'csv', '/nh']));
  } catch (err) {
    throw new PatchbayError(code, `${key}: cannot check who may read ${file}: ${errorMessage(err)}`, {
      key,
      path: file,
      ...context,
    });
  }
  const reader = otherReader(entries, allowed);
  if (reader) {
    const rights = reader.parts.map((p) => `(${p})`).join('');
    throw new PatchbayError(
      code,
      `${key}: ${file} is readable by ${reader.principal} ${rights}; fix it with: ` +
        `icacls "${file}" /inheritance:r /grant:r ${privateGrants(ownSid, 'F').join(' ')}`,
      { key, path: file, principal: reader.principal, ...context },
    );
  }
}
