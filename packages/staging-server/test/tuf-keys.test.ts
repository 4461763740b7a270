// The online key (signing.onlineKeyFile): keygen makes it and prints its key id and public
// key; a key file others may read stops a TUF-mode server with exit 2, naming the key.
import { chmod, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { computeKeyId, readPublicKeyFile, tufKeyJson } from '@patchbay/core/tuf';
import { run } from './fixtures/server-cli.js';

interface KeygenJson {
  keyFile: string;
  publicKey: string;
  fingerprint: string;
  mirrorKeyKept?: boolean;
  onlineKey: { keyFile: string; keyId: string; publicKeyPem: string; publicKeyFile: string };
}

t.test('keygen makes the online key (0600) beside the mirror key and prints its key id', async (t) => {
  const dataDir = t.testdir();
  const out = await run(['--data-dir', dataDir, '--json', 'keygen']);
  t.equal(out.code, 0, out.stderr);
  const printed = JSON.parse(out.stdout) as KeygenJson;
  t.equal(printed.keyFile, join(dataDir, 'keys', 'mirror.key'), 'the mirror key as before');
  t.equal(printed.onlineKey.keyFile, join(dataDir, 'keys', 'online.key'));
  t.match(printed.onlineKey.keyId, /^[0-9a-f]{64}$/);
  t.match(printed.onlineKey.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n/);
  t.notMatch(out.stdout + out.stderr, /PRIVATE KEY/, 'no private key is printed');
  t.equal((await stat(printed.onlineKey.keyFile)).mode & 0o777, 0o600, 'mode 0600');
  const pub = await readPublicKeyFile(`${printed.onlineKey.keyFile}.pub`);
  t.equal(computeKeyId(tufKeyJson(pub)), printed.onlineKey.keyId, 'online.key.pub holds that key');
  t.equal(await readFile(`${printed.onlineKey.keyFile}.pub`, 'utf8'), printed.onlineKey.publicKeyPem);
  t.equal(printed.onlineKey.publicKeyFile, `${printed.onlineKey.keyFile}.pub`);

  const human = await run(['--data-dir', dataDir, 'keygen']);
  t.equal(human.code, 2, 'both keys exist: refused as before');
  t.match(human.stderr, 'refusing to overwrite');

  // A server upgraded to trust v2: the mirror key exists, the online key not yet.
  const upgraded = t.testdir();
  t.equal((await run(['--data-dir', upgraded, 'keygen'])).code, 0);
  const mirrorKey = await readFile(join(upgraded, 'keys', 'mirror.key'), 'utf8');
  await rm(join(upgraded, 'keys', 'online.key'));
  await rm(join(upgraded, 'keys', 'online.key.pub'));
  const again = await run(['--data-dir', upgraded, 'keygen']);
  t.equal(again.code, 0, again.stderr);
  t.match(again.stdout, /mirror signing key kept in .*mirror\.key/);
  t.match(again.stdout, /online key \(TUF snapshot and timestamp\) written to .*online\.key \(mode 0600\)/);
  t.match(again.stdout, /key id: +[0-9a-f]{64}/);
  t.match(again.stdout, /patchbay-publish \(init --online-key .*online\.key\.pub/);
  t.equal(
    await readFile(join(upgraded, 'keys', 'mirror.key'), 'utf8'),
    mirrorKey,
    'the mirror key is untouched',
  );
});

t.test('an online key that others may read stops a TUF-mode sync with exit 2, naming it', async (t) => {
  const dir = t.testdir();
  const dataDir = join(dir, 'data');
  const out = await run(['--data-dir', dataDir, '--json', 'keygen']);
  const { onlineKey } = JSON.parse(out.stdout) as KeygenJson;
  await chmod(onlineKey.keyFile, 0o644);
  const configFile = join(dir, 'server.json');
  await writeFile(join(dir, 'root.json'), '{}');
  await writeFile(
    configFile,
    JSON.stringify({ dataDir, upstream: { url: 'http://127.0.0.1:9/', trustedRoot: 'root.json' } }),
  );
  const result = await run(['--config', configFile, 'sync']);
  t.equal(result.code, 2);
  t.match(
    result.stderr,
    `signing.onlineKeyFile: private key ${onlineKey.keyFile} is readable by group or others`,
  );
  t.match(result.stderr, `chmod 600 ${onlineKey.keyFile}`);
});
