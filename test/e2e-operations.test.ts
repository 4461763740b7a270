// End to end, unattended operation: a staging server with mail notifications and three client
// daemons (`patchbay-client run`) on short cron schedules. Critical patches install inside an
// open maintenance window and not inside a closed one; non-critical ones are only offered; a
// failing pre-install check postpones; mails reach a real SMTP server; SIGTERM mid-run leaves a
// consistent host.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { BIN, REPO_ROOT, runJson, waitFor } from './helpers/processes.js';
import { startStack } from './helpers/stack.js';
import { startSmtpSink } from './helpers/smtp.js';

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const CRITICAL_19 = ['T5KB0201', 'T5KB0202', 'T5KB0203', 'T5KB0204', 'T5KB0206', 'T5KB0215'];

/** A weekly UTC window that starts `fromMinutes` from now and lasts `minutes`. */
function windowAt(fromMinutes: number, minutes: number) {
  const start = new Date(Date.now() + fromMinutes * 60_000);
  const hh = String(start.getUTCHours()).padStart(2, '0');
  const mm = String(start.getUTCMinutes()).padStart(2, '0');
  return { day: DAYS[start.getUTCDay()], start: `${hh}:${mm}`, durationMinutes: minutes, timezone: 'UTC' };
}

function startDaemon(config: string): ChildProcess {
  const child = spawn(process.execPath, [BIN.client, '--config', config, 'run'], {
    cwd: REPO_ROOT,
    env: { ...process.env, PATCHBAY_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.resume();
  return child;
}

async function stopDaemon(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = once(child, 'exit') as Promise<[number | null]>;
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code] = await exited;
  clearTimeout(killer);
  return code;
}

t.test('unattended schedules, windows, policy, mail and SIGTERM', async (t) => {
  const smtp = await startSmtpSink();
  t.teardown(smtp.close);
  const dir = t.testdir();
  const stack = await startStack(dir, {
    releases: ['19.0'],
    serverExtra: {
      notify: {
        smtp: { host: '127.0.0.1', port: smtp.port, secure: false },
        from: 'patchbay@example.test',
        to: ['admins@example.test'],
        events: ['patch-available', 'downloaded', 'installed', 'failed', 'uninstalled'],
        digest: 'off',
      },
    },
  });
  t.teardown(stack.stop);

  const schedule = {
    check: '*/2 * * * * *',
    download: '*/2 * * * * *',
    install: '*/3 * * * * *',
    timezone: 'UTC',
    jitterSeconds: 0,
  };
  const open = stack.writeClientConfig('host-open', '19.0', {
    schedule,
    policy: { autoInstall: 'critical', maintenanceWindows: [windowAt(-60, 180)] },
  });
  const closed = stack.writeClientConfig('host-closed', '19.0', {
    schedule,
    policy: { autoInstall: 'critical', maintenanceWindows: [windowAt(180, 60)] },
  });
  const checked = stack.writeClientConfig('host-checked', '19.0', {
    schedule,
    policy: {
      autoInstall: 'critical',
      maintenanceWindows: [windowAt(-60, 180)],
      preInstallCheck: { command: ['sh', '-c', 'echo a backup job is running >&2; exit 1'] },
    },
  });
  const marker = (installDir: string, id: string) => path.join(installDir, 'patches', `${id}.installed`);

  const daemons = [open, closed, checked].map((c) => startDaemon(c.config));
  t.teardown(async () => {
    for (const d of daemons) await stopDaemon(d);
  });

  await t.test('critical patches install inside the open window', async (t) => {
    await waitFor(
      'the critical patches on host-open',
      async () => CRITICAL_19.every((id) => fs.existsSync(marker(open.installDir, id))),
      90_000,
    );
    t.pass('all critical 19.0 patches installed unattended');
    t.notOk(fs.existsSync(marker(open.installDir, 'T5KB0209')), 'a recommended patch is only offered');
    t.notOk(fs.existsSync(marker(open.installDir, 'T5KB0213')), 'an optional patch is only offered');
  });

  await t.test('a failing pre-install check postpones, and says why in the history', async (t) => {
    const postponed = await waitFor(
      'a postponed install on host-checked',
      async () => {
        const events = await stack.getJson<{ type: string; outcome: string; message?: string }[]>(
          '/v1/reports/history?host=host-checked',
        );
        return events.find((e) => e.outcome === 'postponed');
      },
      60_000,
    );
    t.match(postponed.message, /backup job is running|exit/i);
    t.notOk(
      CRITICAL_19.some((id) => fs.existsSync(marker(checked.installDir, id))),
      'nothing installed on host-checked',
    );
  });

  await t.test('nothing installs outside the window', async (t) => {
    t.notOk(
      CRITICAL_19.some((id) => fs.existsSync(marker(closed.installDir, id))),
      'nothing installed on host-closed',
    );
    const clients = await stack.getJson<{ hostId: string; installed: number }[]>('/v1/clients');
    t.equal(clients.find((c) => c.hostId === 'host-closed')?.installed, 0, 'the server agrees');
  });

  await t.test('the reports list the unattended installs', async (t) => {
    type ComplianceRow = { patchId: string; hosts: Record<string, string> };
    // a marker is on disk before the daemon's report of that install reaches the server: wait
    // for the report (under load the last install's report came after the markers were checked)
    const compliance = await waitFor(
      'the installs of host-open reported',
      async () => {
        const rows = await stack.getJson<ComplianceRow[]>('/v1/reports/compliance');
        const reported = CRITICAL_19.every(
          (id) => rows.find((r) => r.patchId === id)?.hosts['host-open'] === 'installed',
        );
        return reported ? rows : undefined;
      },
      30_000,
    ).catch(() => stack.getJson<ComplianceRow[]>('/v1/reports/compliance'));
    for (const id of CRITICAL_19) {
      t.equal(
        compliance.find((r) => r.patchId === id)?.hosts['host-open'],
        'installed',
        `${id} on host-open`,
      );
    }
    const installs = await stack.getJson<{ patchId: string; outcome: string }[]>(
      '/v1/reports/history?host=host-open&type=install',
    );
    t.same(
      installs
        .filter((e) => e.outcome === 'ok')
        .map((e) => e.patchId)
        .sort(),
      CRITICAL_19,
    );
  });

  await t.test('mails reach the SMTP server naming the patches and hosts', async (t) => {
    const text = () => smtp.mails.map((m) => `${m.subject}\n${m.text ?? ''}`).join('\n---\n');
    const installedMail = await waitFor(
      'the "T5KB0204 installed on host-open" mail',
      async () => smtp.mails.find((m) => /T5KB0204 installed on host-open/.test(m.subject ?? '')),
      30_000,
    );
    t.match(installedMail.text, /T5KB0204/, 'the text names the patch');
    t.ok(installedMail.html, 'with an HTML part');
    t.ok(
      smtp.mails.some((m) => /new patch(es)? available/.test(m.subject ?? '')),
      'the first sync announced the new patches',
    );
    t.notOk(
      smtp.mails.some((m) => /host-closed/.test(m.subject ?? '') && /installed/.test(m.subject ?? '')),
      'no install mail for the host outside its window',
    );
    t.match(text(), /T5KB0201/);
    t.ok(
      smtp.mails.every((m) => (m.to && 'text' in m.to ? m.to.text : '').includes('admins@example.test')),
      'to the configured recipients',
    );
  });

  await t.test('SIGTERM stops the daemons cleanly and leaves consistent state', async (t) => {
    for (const daemon of daemons) t.equal(await stopDaemon(daemon), 0, 'exit 0 on SIGTERM');
    for (const c of [open, closed, checked]) {
      const ledger = JSON.parse(fs.readFileSync(path.join(c.dataDir, 'ledger.json'), 'utf8')) as unknown;
      t.ok(ledger, `${c.hostId}: the ledger parses`);
      t.same(
        fs.readdirSync(c.dataDir).filter((f) => f.endsWith('.tmp')),
        [],
        `${c.hostId}: no temp files left`,
      );
      const status = await runJson<{ patches: { id: string; state: string }[] }>(BIN.client, [
        '--config',
        c.config,
        'status',
      ]);
      t.equal(status.code, 0, status.stderr);
      for (const p of status.json.patches.filter((p) => CRITICAL_19.includes(p.id))) {
        t.equal(
          p.state === 'installed',
          fs.existsSync(marker(c.installDir, p.id)),
          `${c.hostId} ${p.id}: the ledger agrees with the disk`,
        );
      }
    }
  });
});
