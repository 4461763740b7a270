// End to end, air-gapped: server A mirrors the vendor over loopback and exports; server B,
// with no network path to A or the vendor (its upstream is a closed port), imports the
// bundles and serves them. Incremental, chunked and tarred exports; a tampered bundle and an
// incremental without its base are refused with B left as it was.
// This is the server's v1 bundle (catalog and blobs signed by A's mirror key, imports verified
// with upstream.publicKey), which hosts no longer read; the air gap under trust v2 (a TUF
// repository exported, full, incremental and chunked, imported from the publisher's root,
// tampered and replayed bundles refused, a host installing from the importer) is
// test/e2e-trust-tiers.test.ts.
import t from 'tap';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { create as createTar } from 'tar';
import { fetch } from 'undici';
import { BIN, run, runJson, startListening, type LongRunning } from './helpers/processes.js';
import { generateFeed, startStack } from './helpers/stack.js';

interface ExportJson {
  sequence: number;
  baseSequence: number | null;
  files: number;
  bytes: number;
  parts: { name: string; size: number }[] | number | null;
  publicKey: string;
}

interface ImportJson {
  outcome: string;
  sequence: number;
  filesStored: number;
  signatureVerified: boolean;
}

async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function patchIds(dataDir: string): string[] {
  const catalog = JSON.parse(fs.readFileSync(path.join(dataDir, 'catalog', 'current.json'), 'utf8')) as {
    patches: { id: string }[];
  };
  return catalog.patches.map((p) => p.id).sort();
}

t.test('air-gapped mirror fed by export and import', async (t) => {
  const dir = t.testdir();
  const stack = await startStack(dir, { upstream: 'feed', releases: ['19.0'] });
  t.teardown(stack.stop);
  const serverA = (args: string[]) =>
    run(BIN.server, ['--config', stack.serverConfig, ...args], { cwd: dir });
  const exportA = async (args: string[]) => {
    const result = await runJson<ExportJson>(
      BIN.server,
      ['--config', stack.serverConfig, 'export', ...args],
      {
        cwd: dir,
      },
    );
    t.equal(result.code, 0, `export ${args.join(' ')}: ${result.stderr}`);
    return result.json;
  };

  const { mirror: keyA } = await stack.getJson<{ mirror: string }>('/v1/keys');
  const dead = await closedPort();
  const configFor = (name: string): string => {
    const file = path.join(dir, `${name}.json`);
    fs.writeFileSync(
      file,
      JSON.stringify({
        listen: { host: '127.0.0.1', port: 0 },
        dataDir: `./${name}-data`,
        // no network path: the upstream is a closed loopback port; imports are verified with A's key
        upstream: { url: `http://127.0.0.1:${dead}/`, publicKey: keyA, retries: 0, timeoutSeconds: 2 },
        mirror: { products: [{ id: 'arcserve-backup', releases: ['19.0'] }] },
        schedule: { sync: null },
        // about the air gap / trust, not report tokens (e2e-security.test.ts tests those)
        auth: { reportTokens: 'optional' },
      }),
    );
    return file;
  };
  const importInto = (name: string, bundle: string) =>
    run(BIN.server, ['--config', configFor(name), 'import', bundle, '--json'], { cwd: dir });
  const dataOf = (name: string) => path.join(dir, `${name}-data`);

  const full = path.join(dir, 'media', 'full');
  fs.mkdirSync(path.dirname(full));

  await t.test('--dry-run prints the bytes and writes nothing', async (t) => {
    const dry = await exportA([full, '--dry-run']);
    t.ok(dry.bytes > 0);
    t.notOk(fs.existsSync(full), 'DIR not created');
    t.same(fs.readdirSync(path.dirname(full)), [], 'no temp directory either');
    const real = await exportA([full]);
    t.equal(real.bytes, dry.bytes, 'the dry run announced the bytes the export wrote');
    t.equal(real.publicKey, keyA, 'signed by the key A serves at /v1/keys');
  });

  let serverB: LongRunning | undefined;
  t.teardown(() => serverB?.stop());

  await t.test('B imports the export and serves it', async (t) => {
    const imported = await importInto('b', full);
    t.equal(imported.code, 0, imported.stderr);
    const result = JSON.parse(imported.stdout) as ImportJson;
    t.equal(result.signatureVerified, true);
    t.same(patchIds(dataOf('b')), patchIds(path.join(dir, 'server-data')), 'B publishes what A published');

    serverB = await startListening(BIN.server, ['--config', configFor('b'), 'serve', '--json'], { cwd: dir });
    const locked = await importInto('b', full);
    t.equal(locked.code, 1, 'import while B serves is refused (the data dir is locked)');
    t.match(locked.stderr, /in use/);

    const catalog = await fetch(`${serverB.url}/v1/catalog`);
    t.equal(catalog.status, 200, 'B serves the imported catalog');
    const res = await fetch(`${serverB.url}/v1/status`);
    const status = (await res.json()) as { mirror: { sequence: number; patches: number } };
    t.ok(status.mirror.patches > 0, 'B serves the imported catalog although its upstream is unreachable');
    await serverB.stop();
    serverB = undefined;
  });

  const incremental = path.join(dir, 'media', 'inc');
  await t.test('an incremental export applies on top; tampered or baseless ones are refused', async (t) => {
    await generateFeed(stack.feedDir, ['--sequence', '8', '--extra-patches']);
    const synced = await stack.syncNow();
    t.equal(synced.outcome, 'ok');
    const inc = await exportA([incremental, '--since', '1']);
    t.equal(inc.baseSequence, 1);
    t.equal(inc.files, 1, 'only the new patch file travels');

    const tampered = path.join(dir, 'media', 'inc-tampered');
    fs.cpSync(incremental, tampered, { recursive: true });
    const file = fs
      .readdirSync(path.join(tampered, 'files'), { recursive: true, withFileTypes: true })
      .find((e) => e.isFile())!;
    fs.appendFileSync(path.join(file.parentPath, file.name), '\necho pwned\n');
    const catalogBefore = fs.readFileSync(path.join(dataOf('b'), 'catalog', 'current.json'));
    const refused = await importInto('b', tampered);
    t.equal(refused.code, 1);
    t.match(refused.stderr, /nothing was merged.*T5KB0216/);
    t.same(
      fs.readFileSync(path.join(dataOf('b'), 'catalog', 'current.json')),
      catalogBefore,
      "B's catalog unchanged",
    );
    t.notOk(patchIds(dataOf('b')).includes('T5KB0216'));

    const baseless = await importInto('c', incremental);
    t.equal(baseless.code, 1);
    t.match(baseless.stderr, /base sequence 1 was never imported/);
    t.notOk(fs.existsSync(path.join(dataOf('c'), 'catalog', 'current.json')), 'C publishes nothing');

    const applied = await importInto('b', incremental);
    t.equal(applied.code, 0, applied.stderr);
    t.equal((JSON.parse(applied.stdout) as ImportJson).filesStored, 1);
    t.ok(patchIds(dataOf('b')).includes('T5KB0216'), 'the new patch is published on B');
  });

  await t.test('a chunked export imports from the directory of its parts', async (t) => {
    const chunked = path.join(dir, 'media', 'chunked');
    const summary = await exportA([chunked, '--chunk-size', '300K']);
    const parts = summary.parts as { name: string; size: number }[];
    t.ok(parts.length > 1, `${parts.length} parts`);
    t.ok(parts.every((p) => p.size <= 300 * 1024));
    const imported = await importInto('d', chunked);
    t.equal(imported.code, 0, imported.stderr);
    t.same(patchIds(dataOf('d')), patchIds(path.join(dir, 'server-data')));
  });

  await t.test('a tarred export imports', async (t) => {
    const tarFile = path.join(dir, 'media', 'full.tar');
    await createTar({ file: tarFile, cwd: path.dirname(full) }, [path.basename(full)]);
    const imported = await importInto('e', tarFile);
    t.equal(imported.code, 0, imported.stderr);
    t.equal((JSON.parse(imported.stdout) as ImportJson).sequence, 1);
    t.ok(patchIds(dataOf('e')).includes('T5KB0209'));
  });

  const usage = await serverA(['export', full]);
  t.equal(usage.code, 2, 'an existing DIR is bad usage');
  t.match(usage.stderr, /already exists/);
});
