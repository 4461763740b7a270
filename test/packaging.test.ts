// Packaging (issue 8): the Dockerfile, docker-compose.yml with its configs and its init script,
// and the systemd units. No Docker engine is needed (none runs in CI): docker-compose (v1)
// validates the compose file offline, every config it mounts loads through the real config
// loaders, systemd-analyze checks the units offline, and the two scripts the containers run
// (deploy/docker/healthcheck.mjs, deploy/compose/init-secrets.sh) run here for real. The
// Windows service's WinSW XML and PowerShell scripts (issue 17) are read, not run.
import t, { type Test } from 'tap';
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import {
  loadClientConfig,
  isInside,
  loadServerConfig,
  SERVER_CONFIG_DEFAULTS,
  type ClientConfig,
  type ServerConfig,
} from '@patchbay/core';
import { EXIT_BACKSTOP_MS, SHUTDOWN_GRACE_MS } from '../packages/staging-server/dist/shutdown.js';
import { DEFAULT_TIMEOUT_SECONDS } from '../packages/client-daemon/dist/installer.js';
import { REPO_ROOT } from './helpers/processes.js';
import { parseXml, type XmlElement } from './helpers/xml-elements.js';

const execFileAsync = promisify(execFile);
const repo = (...parts: string[]): string => path.join(REPO_ROOT, ...parts);

/** The image every patchbay service runs; the SMTP catcher is the only other image. */
const IMAGE = 'patchbay:local';
const SMTP_SERVICE = 'smtp';
/** Mailpit's SMTP port inside its container. */
const MAILPIT_SMTP_PORT = 1025;
const PATCHBAY_SERVICES = [
  'upstream',
  'init-secrets',
  'enroll-client-a',
  'enroll-client-b',
  'staging-server',
  'client-a',
  'client-b',
];
const CLIENT_SERVICES = ['client-a', 'client-b'];
/** Profile `replicas`: PostgreSQL, two `serve` replicas, nginx; off in a plain `docker-compose up`. */
const REPLICA_SERVICES = ['replica-a', 'replica-b'];
const REPLICAS_PROFILE_SERVICES = ['postgres', ...REPLICA_SERVICES, 'replicas-lb'];
/** Where every service mounts its secrets volume (the image's /var/lib/patchbay-secrets). */
const SECRETS_TARGET = '/var/lib/patchbay-secrets';
const INIT_SCRIPT = '/etc/patchbay/init-secrets.sh';

// ------------------------------------------------------------------------------ helpers

/** The executable's path when `name` is on PATH, else null. */
function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

/** A duration as compose and systemd write it ("30s", "35m", "35min", "1h", "90") in seconds. */
function seconds(value: string): number {
  const units: Record<string, number> = { s: 1, sec: 1, m: 60, min: 60, h: 3600 };
  let total = 0;
  const rest = value
    .trim()
    .replace(/(\d+(?:\.\d+)?)\s*(min|sec|s|m|h)?/g, (_all, n: string, unit?: string) => {
      total += Number(n) * (units[unit ?? 's'] ?? NaN);
      return '';
    });
  if (rest.trim() !== '' || !Number.isFinite(total)) throw new Error(`not a duration: "${value}"`);
  return total;
}

interface Healthcheck {
  test?: string | string[];
  disable?: boolean;
}

interface ComposeService {
  image?: string;
  build?: string | { context?: string };
  command?: string | string[];
  user?: string;
  volumes?: (string | { type?: string; source?: string; target?: string; read_only?: boolean })[];
  ports?: (string | number)[];
  healthcheck?: Healthcheck;
  depends_on?: string[] | Record<string, { condition?: string }>;
  stop_grace_period?: string;
  profiles?: string[];
  environment?: Record<string, string> | string[];
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

interface Mount {
  kind: 'bind' | 'volume';
  source: string;
  target: string;
  readOnly: boolean;
}

/** A service's mounts, short or long syntax; bind sources made absolute against the repository. */
function mounts(service: ComposeService): Mount[] {
  return (service.volumes ?? []).map((v) => {
    let source: string;
    let target: string;
    let readOnly = false;
    if (typeof v === 'string') {
      const [s = '', tgt = '', mode = ''] = v.split(':');
      source = s;
      target = tgt;
      readOnly = mode.split(',').includes('ro');
    } else {
      source = v.source ?? '';
      target = v.target ?? '';
      readOnly = v.read_only === true;
    }
    const bind = source.startsWith('.') || path.isAbsolute(source);
    return {
      kind: bind ? 'bind' : 'volume',
      source: bind ? path.resolve(REPO_ROOT, source) : source,
      target,
      readOnly,
    };
  });
}

function commandOf(service: ComposeService): string[] {
  const command = service.command ?? [];
  return typeof command === 'string' ? command.split(/\s+/) : command.map(String);
}

function flagValue(argv: string[], flag: string): string | undefined {
  const at = argv.indexOf(flag);
  return at === -1 ? undefined : argv[at + 1];
}

function dependsOn(service: ComposeService): Record<string, string> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [d, 'service_started']));
  return Object.fromEntries(Object.entries(deps).map(([k, v]) => [k, v.condition ?? 'service_started']));
}

function healthcheckArgv(service: ComposeService): string[] {
  const test = service.healthcheck?.test ?? [];
  return typeof test === 'string' ? ['CMD-SHELL', test] : test;
}

/** The bins the workspace packages declare: what a container command may start. */
function workspaceBins(): Set<string> {
  const bins = new Set<string>();
  for (const pkg of fs.readdirSync(repo('packages'))) {
    const manifest = JSON.parse(fs.readFileSync(repo('packages', pkg, 'package.json'), 'utf8')) as {
      bin?: Record<string, string>;
    };
    for (const [name, file] of Object.entries(manifest.bin ?? {})) {
      if (fs.existsSync(repo('packages', pkg, file))) bins.add(name);
    }
  }
  return bins;
}

/**
 * docker-compose.yml as compose itself resolves it (`docker-compose config`: anchors merged,
 * paths absolute), or, when docker-compose is missing outside CI, parsed here with merge keys.
 */
function loadCompose(t: Test): ComposeFile {
  const file = repo('docker-compose.yml');
  if (onPath('docker-compose')) {
    const result = spawnSync('docker-compose', ['-f', file, 'config'], { cwd: REPO_ROOT, encoding: 'utf8' });
    t.equal(result.status, 0, `docker-compose -f docker-compose.yml config: ${result.stderr}`);
    return parseYaml(result.stdout, { merge: true }) as ComposeFile;
  }
  const why = 'docker-compose is not on PATH (apt-get install docker-compose): compose validation skipped';
  if (process.env.CI) t.fail(`${why}; CI must validate docker-compose.yml`);
  else t.comment(why);
  return parseYaml(fs.readFileSync(file, 'utf8'), { merge: true }) as ComposeFile;
}

// ------------------------------------------------------------------------- compose

t.test('docker-compose.yml: services, image, volumes and the configs they mount', async (t) => {
  const compose = loadCompose(t);
  const services = compose.services;
  t.same(
    Object.keys(services).sort(),
    [...PATCHBAY_SERVICES, SMTP_SERVICE, ...REPLICAS_PROFILE_SERVICES].sort(),
    'the stack: upstream, init and enrolls, staging server, two clients, SMTP catcher; the replicas profile',
  );
  for (const [name, s] of Object.entries(services)) {
    const inProfile = REPLICAS_PROFILE_SERVICES.includes(name);
    t.same(
      s.profiles ?? [],
      inProfile ? ['replicas'] : [],
      `${name}: ${inProfile ? 'profile replicas' : 'default'}`,
    );
  }
  const bins = workspaceBins();
  const declaredVolumes = new Set(Object.keys(compose.volumes ?? {}));

  t.test('every patchbay service runs the one image, unprivileged', async (t) => {
    for (const name of PATCHBAY_SERVICES) {
      const s = services[name]!;
      t.equal(s.image, IMAGE, `${name}: image`);
      const context = typeof s.build === 'string' ? s.build : s.build?.context;
      t.equal(path.resolve(REPO_ROOT, context ?? '<none>'), REPO_ROOT, `${name}: built from the repository`);
      t.notOk(s.user === 'root' || s.user === '0', `${name}: does not run as root`);
      const [program, ...args] = commandOf(s);
      if (program === 'sh') {
        const script = mounts(s).find((m) => m.target === args[0]);
        t.ok(script && fs.existsSync(script.source), `${name}: the script it runs is mounted: ${args[0]}`);
      } else {
        t.ok(program !== undefined && bins.has(program), `${name}: ${program} is a workspace bin`);
      }
    }
    t.match(services[SMTP_SERVICE]!.image, /mailpit/, 'the SMTP catcher is mailpit');
  });

  t.test('named volumes are declared; each client has its own data and install volumes', async (t) => {
    const owners = new Map<string, string[]>();
    for (const [name, s] of Object.entries(services)) {
      for (const m of mounts(s).filter((m) => m.kind === 'volume')) {
        t.ok(declaredVolumes.has(m.source), `${name}: volume ${m.source} is declared`);
        owners.set(m.source, [...(owners.get(m.source) ?? []), name]);
      }
    }
    for (const name of ['staging-server', ...CLIENT_SERVICES]) {
      const data = mounts(services[name]!).find((m) => m.target === '/var/lib/patchbay');
      t.ok(data?.kind === 'volume' && !data.readOnly, `${name}: data in a writable volume`);
    }
    for (const name of CLIENT_SERVICES) {
      for (const m of mounts(services[name]!).filter((m) => m.kind === 'volume' && !m.readOnly)) {
        t.same(owners.get(m.source), [name], `${name}: volume ${m.source} is its own`);
      }
    }
  });

  t.test('every mounted file exists; every config loads with the real loaders', async (t) => {
    let configs = 0;
    for (const [name, s] of Object.entries(services)) {
      const argv = commandOf(s);
      for (const m of mounts(s).filter((m) => m.kind === 'bind')) {
        t.ok(fs.existsSync(m.source), `${name}: ${path.relative(REPO_ROOT, m.source)} exists`);
        t.ok(m.readOnly, `${name}: ${m.target} is mounted read-only`);
        if (!m.target.endsWith('.json')) continue;
        const program = flagValue(argv, '--config') === m.target ? argv[0] : undefined;
        const asServer = program === 'patchbay-server' || m.target === '/etc/patchbay/staging-server.json';
        const asClient = program === 'patchbay-client';
        t.ok(asServer || asClient, `${name}: a loader is known for ${m.target}`);
        const load = () =>
          asServer ? loadServerConfig({ file: m.source }) : loadClientConfig({ file: m.source });
        t.doesNotThrow(load, `${name}: ${path.relative(REPO_ROOT, m.source)} loads`);
        configs++;
      }
    }
    t.ok(configs >= 4, `configs checked: ${configs}`);
  });

  t.test('each service mounts only its own secret; no client can read the admin token', async (t) => {
    const serverFile = mounts(services['staging-server']!).find(
      (m) => m.target === '/etc/patchbay/staging-server.json',
    )!;
    const adminTokenDir = path.dirname(
      loadServerConfig({ file: serverFile.source }).auth?.adminTokenFile ?? '',
    );
    const adminVolume = mounts(services['staging-server']!).find((m) => m.target === adminTokenDir);
    t.ok(adminVolume?.kind === 'volume', `the admin token's directory ${adminTokenDir} is a volume`);
    const readers = (volume: string) =>
      PATCHBAY_SERVICES.filter((name) => mounts(services[name]!).some((m) => m.source === volume)).sort();
    t.same(
      readers(adminVolume!.source),
      ['init-secrets', 'staging-server'],
      'the admin token: server and its init only',
    );
    for (const name of CLIENT_SERVICES) {
      const client = services[name]!;
      const mine = mounts(client).find((m) => m.target === SECRETS_TARGET);
      t.ok(mine, `${name}: mounts a secrets volume`);
      t.not(mine?.source, adminVolume?.source, `${name}: not the admin token's volume`);
      t.same(
        readers(mine?.source ?? ''),
        [`enroll-${name}`, name].sort(),
        `${name}: its secrets volume is its own`,
      );
      // nothing else of another service's secrets either: no volume it shares with another client or the server
      for (const m of mounts(client).filter((m) => m.kind === 'volume')) {
        const others = readers(m.source).filter(
          (r) => r === 'staging-server' || (CLIENT_SERVICES.includes(r) && r !== name),
        );
        t.same(others, [], `${name}: volume ${m.source} is shared with no other client nor the server`);
      }
    }
  });

  t.test('profile replicas: two replicas, one data volume, one database', async (t) => {
    const [a, b] = REPLICA_SERVICES.map((name) => services[name]!);
    t.same(commandOf(a!), commandOf(b!), 'both replicas run the same command');
    t.same(mounts(a!), mounts(b!), 'with the same mounts');
    t.equal(a!.image, IMAGE, 'the patchbay image');
    const data = mounts(a!).find((m) => m.target === '/var/lib/patchbay');
    t.ok(data?.kind === 'volume', 'the shared data directory is a volume');
    t.not(
      data?.source,
      mounts(services['staging-server']!).find((m) => m.target === '/var/lib/patchbay')?.source,
      "not the one-box server's: its data-dir lock would refuse the replicas",
    );
    const configFile = mounts(a!).find((m) => m.target === flagValue(commandOf(a!), '--config'))!.source;
    const config = loadServerConfig({ file: configFile });
    const url = new URL(config.database?.url ?? 'missing:');
    t.equal(url.hostname, 'postgres', 'database.url names the postgres service');
    t.equal(url.password, '', 'no password in the config file (PGPASSWORD)');
    const environment = (s: ComposeService) =>
      Array.isArray(s.environment)
        ? Object.fromEntries(s.environment.map((e) => e.split('=', 2) as [string, string]))
        : (s.environment ?? {});
    t.equal(
      environment(a!)['PGPASSWORD'],
      environment(services['postgres']!)['POSTGRES_PASSWORD'],
      "the replicas' PGPASSWORD is the database's password",
    );
    t.equal(environment(services['postgres']!)['POSTGRES_DB'], url.pathname.slice(1), 'the database');
    t.equal(environment(services['postgres']!)['POSTGRES_USER'], url.username, 'the role');
    t.equal(dependsOn(a!)['postgres'], 'service_healthy', 'a replica waits for a healthy database');
    const nginx = fs.readFileSync(
      mounts(services['replicas-lb']!).find((m) => m.target.startsWith('/etc/nginx/'))!.source,
      'utf8',
    );
    for (const name of REPLICA_SERVICES)
      t.match(nginx, `server ${name}:${config.listen.port} `, `nginx balances onto ${name}`);
    t.notOk(services['postgres']!.ports, 'the database publishes no port');
  });

  t.test('the configs point at the services the stack runs', async (t) => {
    const serverService = services['staging-server']!;
    const serverMounts = mounts(serverService);
    const serverFile = serverMounts.find(
      (m) => m.target === flagValue(commandOf(serverService), '--config'),
    )!.source;
    const server: ServerConfig = loadServerConfig({ file: serverFile });
    const secrets = SECRETS_TARGET;
    const dataVolume = serverMounts.find((m) => m.target === '/var/lib/patchbay')!;

    const upstreamArgv = commandOf(services['upstream']!);
    const upstreamUrl = new URL(server.upstream.url);
    t.equal(upstreamUrl.hostname, 'upstream', 'upstream.url names the upstream service');
    t.equal(upstreamUrl.port, flagValue(upstreamArgv, '--port'), 'on the port it listens on');
    t.equal(flagValue(upstreamArgv, '--host'), '0.0.0.0', 'the upstream listens beyond its loopback');

    t.equal(server.notify?.smtp?.host, SMTP_SERVICE, 'notify.smtp.host is the SMTP catcher');
    t.equal(server.notify?.smtp?.port, MAILPIT_SMTP_PORT, "notify.smtp.port is mailpit's SMTP port");

    const port = server.listen.port;
    t.ok(
      (serverService.ports ?? []).some((p) => new RegExp(`:${port}(/tcp)?$`).test(String(p))),
      `the server's listen.port ${port} is published`,
    );
    t.match(healthcheckArgv(serverService).join(' '), `127.0.0.1:${port}/`, 'its healthcheck probes it');
    t.ok(server.dataDir.startsWith(`${dataVolume.target}/`), 'dataDir is in the data volume');
    t.equal(path.dirname(server.auth?.adminTokenFile ?? ''), secrets, 'the admin token is in secrets');

    const deps = dependsOn(serverService);
    t.equal(deps['upstream'], 'service_healthy', 'the server waits for a healthy upstream');
    t.equal(deps['init-secrets'], 'service_completed_successfully', 'and for the tokens');

    const serverSecrets = serverMounts.find((m) => m.target === secrets)!;
    t.ok(
      mounts(services['init-secrets']!).some(
        (m) => m.source === serverSecrets.source && m.target === secrets,
      ),
      "init-secrets writes the admin token into the server's secrets volume",
    );
    t.same(
      commandOf(services['init-secrets']!),
      ['sh', INIT_SCRIPT, '--admin'],
      'init-secrets: the admin token',
    );

    const hostIds = new Set<string>();
    for (const name of CLIENT_SERVICES) {
      const s = services[name]!;
      const ms = mounts(s);
      const file = ms.find((m) => m.target === flagValue(commandOf(s), '--config'))!.source;
      const client: ClientConfig = loadClientConfig({ file });
      t.same(client.server, [`http://staging-server:${port}`], `${name}: server is the staging server`);
      t.notOk(hostIds.has(client.hostId), `${name}: hostId ${client.hostId} is unique`);
      hostIds.add(client.hostId);
      // its enroll service writes the token into the volume it mounts, and the enroll goes
      // into the very database the server reads
      const enroll = services[`enroll-${name}`]!;
      const enrollMounts = mounts(enroll);
      t.same(
        commandOf(enroll),
        ['sh', INIT_SCRIPT, client.hostId],
        `${name}: enroll-${name} enrolls ${client.hostId}`,
      );
      t.ok(
        enrollMounts.some((m) => m.source === dataVolume.source && m.target === dataVolume.target),
        `enroll-${name} mounts the server data volume where the server does`,
      );
      t.ok(
        enrollMounts.some((m) => m.source === serverFile && m.target === '/etc/patchbay/staging-server.json'),
        `enroll-${name} enrolls with the server's config`,
      );
      t.equal(
        deps[`enroll-${name}`],
        'service_completed_successfully',
        `the server waits for enroll-${name}`,
      );
      const own = ms.find((m) => m.target === secrets);
      t.ok(
        own?.kind === 'volume' &&
          own.readOnly &&
          enrollMounts.some((m) => m.source === own.source && m.target === secrets),
        `${name}: its secrets volume, the one enroll-${name} writes, mounted read-only`,
      );
      t.equal(client.tokenFile, `${secrets}/${client.hostId}.token`, `${name}: tokenFile`);
      t.ok(client.dataDir.startsWith('/var/lib/patchbay/'), `${name}: dataDir is in the data volume`);
      for (const product of client.products) {
        const install = ms.find((m) => m.target === product.installDir);
        t.ok(install?.kind === 'volume', `${name}: installDir ${product.installDir} is a volume`);
      }
      t.equal(dependsOn(s)['staging-server'], 'service_healthy', `${name}: waits for the server`);
      // an install in flight is never cut: docker must wait for the installer's timeout
      t.ok(
        seconds(s.stop_grace_period ?? '10s') > DEFAULT_TIMEOUT_SECONDS,
        `${name}: stop_grace_period covers an install`,
      );
    }
    t.ok(
      seconds(serverService.stop_grace_period ?? '10s') > (SHUTDOWN_GRACE_MS + EXIT_BACKSTOP_MS) / 1000,
      "the server's stop_grace_period covers its shutdown grace",
    );
  });
});

// ---------------------------------------------------------------------- Dockerfile

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions per stage (continuation lines joined, comments dropped). */
function dockerStages(text: string): Instruction[][] {
  const joined = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  const stages: Instruction[][] = [];
  for (const line of joined.split('\n')) {
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!match) continue;
    const op = match[1]!.toUpperCase();
    if (op === 'FROM') stages.push([]);
    (stages.at(-1) ?? (stages[0] = [])).push({ op, args: match[2]!.trim() });
  }
  return stages;
}

/** Whether .dockerignore keeps `rel` out of the build context (its patterns: no `!` lines). */
function dockerIgnored(rel: string, patterns: string[]): boolean {
  const toRegExp = (p: string) =>
    new RegExp(
      '^' +
        p
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*\*\//g, '@GLOBSTAR@')
          .replace(/\*/g, '[^/]*')
          .replace(/\?/g, '[^/]')
          .replace(/@GLOBSTAR@/g, '(?:.*/)?') +
        '(?:/.*)?$',
    );
  return patterns.some((p) => toRegExp(p.replace(/^\/|\/$/g, '')).test(rel));
}

t.test('Dockerfile: multi-stage, non-root, data in a volume, health, signals', async (t) => {
  const text = fs.readFileSync(repo('Dockerfile'), 'utf8');
  const stages = dockerStages(text);
  t.ok(stages.length >= 2, 'multi-stage');
  t.match(text, /^ARG NODE_IMAGE=node:20-bookworm-slim$/m, 'based on node:20-bookworm-slim');

  const build = stages[1]!;
  const runs = (stage: Instruction[]) =>
    stage
      .filter((i) => i.op === 'RUN')
      .map((i) => i.args)
      .join('\n');
  t.match(runs(build), /python3 make g\+\+/, 'the build stage can compile better-sqlite3');
  t.match(runs(build), /npm ci/, 'npm ci');
  t.match(runs(build), /tsc -b/, 'tsc -b');
  t.match(runs(build), /npm prune --omit=dev/, 'dev dependencies dropped');

  const final = stages.at(-1)!;
  const last = (op: string) => final.filter((i) => i.op === op).at(-1)?.args;
  const user = last('USER');
  t.ok(user && !/^(root|0)(:|$)/.test(user), `the final stage runs as a non-root user (${user})`);
  t.match(last('VOLUME') ?? '', '/var/lib/patchbay', 'data in a volume');
  t.match(last('EXPOSE') ?? '', String(SERVER_CONFIG_DEFAULTS.listen.port), "the server's default port");
  t.match(last('HEALTHCHECK') ?? '', /CMD \["node", "\/app\/deploy\/docker\/healthcheck\.mjs"\]/, 'health');
  t.match(last('ENTRYPOINT') ?? '', /tini/, 'tini forwards signals and reaps');
  t.match(last('CMD') ?? '', /patchbay-server/, 'the default command is the server');

  // Named volumes take the owner of their mount point in the image: each must exist there.
  const compose = parseYaml(fs.readFileSync(repo('docker-compose.yml'), 'utf8'), {
    merge: true,
  }) as ComposeFile;
  const targets = new Set(
    PATCHBAY_SERVICES.flatMap((s) => mounts(compose.services[s]!))
      .filter((m) => m.kind === 'volume')
      .map((m) => m.target),
  );
  for (const target of targets)
    t.match(runs(final), target, `the image creates ${target}, owned by its user`);

  const ignore = fs
    .readFileSync(repo('.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  t.notOk(
    ignore.some((l) => l.startsWith('!')),
    'no negations (this test reads .dockerignore simply)',
  );
  for (const copy of stages.flat().filter((i) => i.op === 'COPY' && !i.args.includes('--from'))) {
    const sources = copy.args.split(/\s+/).filter((a) => !a.startsWith('--'));
    sources.pop(); // destination
    for (const source of sources) {
      const rel = source.replace(/\/$/, '');
      t.ok(fs.existsSync(repo(rel)), `COPY ${rel}: exists`);
      t.notOk(dockerIgnored(rel, ignore), `COPY ${rel}: not excluded by .dockerignore`);
    }
  }
  t.ok(dockerIgnored('packages/core/node_modules', ignore), '.dockerignore keeps node_modules out');
  t.ok(dockerIgnored('packages/core/dist', ignore), '.dockerignore keeps dist out');
});

// ------------------------------------------------------------ the containers' scripts

t.test('deploy/docker/healthcheck.mjs: exit 0 on a 2xx only', async (t) => {
  const server = http.createServer((req, res) => {
    res.statusCode = req.url === '/healthz' ? 200 : 503;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const probe = async (url: string): Promise<number> => {
    try {
      await execFileAsync(process.execPath, [repo('deploy/docker/healthcheck.mjs'), url]);
      return 0;
    } catch (err) {
      return (err as { code?: number }).code ?? -1;
    }
  };
  const [healthy, unhealthy] = await Promise.all([
    probe(`http://127.0.0.1:${port}/healthz`),
    probe(`http://127.0.0.1:${port}/readyz`),
  ]);
  t.equal(healthy, 0, '200: healthy');
  t.equal(unhealthy, 1, '503: unhealthy');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  t.equal(await probe(`http://127.0.0.1:${port}/healthz`), 1, 'nothing listening: unhealthy');
});

t.test(
  'deploy/compose/init-secrets.sh: tokens made once, enrolled with the real server CLI',
  { skip: process.platform === 'win32' ? 'a POSIX sh script' : false },
  async (t) => {
    const dir = t.testdir({ 'server-secrets': {}, 'client-a-secrets': {}, 'client-b-secrets': {} });
    const compose = parseYaml(fs.readFileSync(repo('docker-compose.yml'), 'utf8'), {
      merge: true,
    }) as ComposeFile;
    // each secrets volume as compose fills it: the admin token, then one enroll per client
    const runs = ['init-secrets', ...CLIENT_SERVICES.map((c) => `enroll-${c}`)].map((name) => {
      const volume = mounts(compose.services[name]!).find((m) => m.target === SECRETS_TARGET)!.source;
      return { name, volume, args: commandOf(compose.services[name]!).slice(2) };
    });
    const hosts = runs.flatMap((r) => r.args.filter((a) => a !== '--admin'));
    // the compose server config, with its data directory moved into the test directory
    const config = JSON.parse(fs.readFileSync(repo('deploy/compose/staging-server.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    fs.writeFileSync(
      path.join(dir, 'server.json'),
      JSON.stringify({ ...config, $schema: undefined, dataDir: path.join(dir, 'server') }),
    );
    const env = {
      ...process.env,
      PATH: [repo('node_modules/.bin'), process.env.PATH].join(path.delimiter),
      PATCHBAY_SERVER_CONFIG: path.join(dir, 'server.json'),
      PATCHBAY_LOG_LEVEL: 'warn',
    };
    const init = (secretsDir: string, args: string[]) =>
      spawnSync('sh', [repo('deploy/compose/init-secrets.sh'), ...args], {
        env: { ...env, PATCHBAY_SECRETS_DIR: secretsDir },
        encoding: 'utf8',
        timeout: 30_000,
      });
    const initAll = () => runs.map((r) => init(path.join(dir, r.volume), r.args));

    const first = initAll();
    for (const [i, r] of first.entries()) t.equal(r.status, 0, `first run, ${runs[i]!.name}: ${r.stderr}`);
    const read = (volume: string, name: string) => fs.readFileSync(path.join(dir, volume, name), 'utf8');
    const mode = (volume: string, name: string) => fs.statSync(path.join(dir, volume, name)).mode & 0o777;
    t.same(
      fs.readdirSync(path.join(dir, 'server-secrets')),
      ['admin-token'],
      "the server's volume: the admin token only",
    );
    t.match(
      read('server-secrets', 'admin-token'),
      /^[A-Za-z0-9_-]{43}\n$/,
      'admin token: 32 random bytes, base64url',
    );
    t.equal(mode('server-secrets', 'admin-token'), 0o600, 'admin token mode 0600');
    t.same(hosts, ['client-a', 'client-b'], 'the hosts compose enrolls');
    for (const host of hosts) {
      const volume = `${host}-secrets`;
      t.same(
        fs.readdirSync(path.join(dir, volume)),
        [`${host}.token`],
        `${host}: its volume holds its token only`,
      );
      t.match(read(volume, `${host}.token`), /^pbt_[A-Za-z0-9_-]+\n$/, `${host}: a report token`);
      t.equal(mode(volume, `${host}.token`), 0o600, `${host}: mode 0600`);
    }
    t.ok(fs.existsSync(path.join(dir, 'server', 'auth.sqlite')), "enrolled in the server's auth.sqlite");

    const all = () =>
      hosts.map((h) => read(`${h}-secrets`, `${h}.token`)).concat(read('server-secrets', 'admin-token'));
    const before = all();
    const again = initAll();
    t.same(
      again.map((r) => r.status),
      [0, 0, 0],
      'second run',
    );
    t.same(all(), before, 'a second run keeps every token (running clients hold them)');
    t.match(again[0]!.stdout, /exists, kept/);
    for (const r of runs)
      t.same(
        fs.readdirSync(path.join(dir, r.volume)).filter((f) => f.endsWith('.tmp')),
        [],
        `${r.volume}: no temp files left`,
      );

    const missing = init(path.join(dir, 'nowhere'), ['--admin']);
    t.equal(missing.status, 2, 'a missing secrets directory: exit 2');
    t.match(missing.stderr, /nowhere does not exist/, 'naming it');
  },
);

// ------------------------------------------------------------------------- systemd

type Unit = Record<string, Record<string, string[]>>;

/** A unit file: section -> key -> every value given (later lines add, as systemd reads lists). */
function parseUnit(text: string): Unit {
  const unit: Unit = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      unit[section] ??= {};
      continue;
    }
    const at = line.indexOf('=');
    const key = line.slice(0, at).trim();
    (unit[section]![key] ??= []).push(line.slice(at + 1).trim());
  }
  return unit;
}

const UNITS = {
  server: {
    file: 'patchbay-server.service',
    bin: 'packages/staging-server/bin/patchbay-server.js',
    command: 'serve',
    load: (file: string) => loadServerConfig({ file }),
    // 10 s for responses in flight + the exit backstop, then a margin
    minStopSeconds: (SHUTDOWN_GRACE_MS + EXIT_BACKSTOP_MS) / 1000 + 5,
    maxExposure: 2,
  },
  client: {
    file: 'patchbay-client.service',
    bin: 'packages/client-daemon/bin/patchbay-client.js',
    command: 'run',
    load: (file: string) => loadClientConfig({ file }),
    // an install in flight runs to its end (default installer timeout), then a margin
    minStopSeconds: DEFAULT_TIMEOUT_SECONDS + 5,
    maxExposure: 4,
  },
} as const;

const HARDENING = [
  'ProtectSystem=strict',
  'ProtectHome=yes',
  'PrivateTmp=yes',
  'NoNewPrivileges=yes',
  'ProtectKernelTunables=yes',
  'ProtectControlGroups=yes',
  'RestrictNamespaces=yes',
  'SystemCallFilter=@system-service',
  'SystemCallArchitectures=native',
  'Restart=on-failure',
  'RestartPreventExitStatus=2',
  'KillSignal=SIGTERM',
];

t.test('systemd units: hardening, paths, stop timeouts', async (t) => {
  for (const [program, spec] of Object.entries(UNITS)) {
    const unit = parseUnit(fs.readFileSync(repo('deploy/systemd', spec.file), 'utf8'));
    const service = unit['Service'] ?? {};
    const has = (entry: string) => {
      const [key, value] = entry.split('=') as [string, string];
      return (service[key] ?? []).includes(value);
    };
    for (const entry of HARDENING) t.ok(has(entry), `${spec.file}: ${entry}`);
    for (const key of ['CapabilityBoundingSet', 'RestrictAddressFamilies', 'StateDirectory']) {
      t.ok(service[key], `${spec.file}: ${key}`);
    }
    t.equal(service['ConfigurationDirectory']?.[0], 'patchbay', `${spec.file}: ConfigurationDirectory`);
    t.ok(
      seconds(service['TimeoutStopSec']?.[0] ?? '0') >= spec.minStopSeconds,
      `${spec.file}: TimeoutStopSec covers a graceful stop (${spec.minStopSeconds} s)`,
    );
    t.same(unit['Install']?.['WantedBy'], ['multi-user.target'], `${spec.file}: enabled for boot`);

    // ExecStart: node, a launcher the repository has, a config in the ConfigurationDirectory
    const argv = (service['ExecStart']?.[0] ?? '').split(/\s+/);
    t.equal(argv[0], '/usr/bin/node', `${spec.file}: runs node`);
    t.equal(argv[1], `/opt/patchbay/${spec.bin}`, `${spec.file}: the ${program} launcher`);
    t.ok(fs.existsSync(repo(spec.bin)), `${spec.bin} exists`);
    t.equal(argv.at(-1), spec.command, `${spec.file}: ${spec.command}`);
    const configPath = flagValue(argv, '--config') ?? '';
    t.equal(path.dirname(configPath), '/etc/patchbay', `${spec.file}: config in /etc/patchbay`);

    // the template for that config loads, and its dataDir is the unit's StateDirectory
    const template = repo('deploy/systemd', path.basename(configPath));
    t.ok(fs.existsSync(template), `template ${path.relative(REPO_ROOT, template)} exists`);
    const config = spec.load(template);
    t.equal(
      config.dataDir,
      `/var/lib/${service['StateDirectory']?.[0]}`,
      `${spec.file}: dataDir = StateDirectory`,
    );
    t.equal(service['WorkingDirectory']?.[0], config.dataDir, `${spec.file}: WorkingDirectory`);
  }

  const server = parseUnit(fs.readFileSync(repo('deploy/systemd', UNITS.server.file), 'utf8'))['Service']!;
  const sysusers = fs.readFileSync(repo('deploy/systemd/patchbay.sysusers.conf'), 'utf8');
  t.ok(
    server['DynamicUser']?.[0] === 'yes' ||
      (server['User']?.[0] === 'patchbay' && /^u patchbay /m.test(sysusers)),
    'the server runs as its own user (sysusers.d makes it)',
  );
  t.same(server['CapabilityBoundingSet'], [''], 'the server keeps no capabilities');
  const client = parseUnit(fs.readFileSync(repo('deploy/systemd', UNITS.client.file), 'utf8'))['Service']!;
  t.ok(client['ReadWritePaths']?.length, 'the client may write the product install directories');
  t.equal(client['KillMode']?.[0], 'mixed', 'SIGTERM to the daemon only, never to an installer in flight');

  // the client template's product directories are among the paths the unit lets it write
  const template = loadClientConfig({ file: repo('deploy/systemd/client.json') });
  const writable = (client['ReadWritePaths'] ?? [])
    .flatMap((v) => v.split(/\s+/))
    .map((p) => p.replace(/^-/, ''));
  for (const product of template.products) {
    t.ok(
      writable.some((p) => product.installDir === p || product.installDir.startsWith(`${p}/`)),
      `ReadWritePaths covers ${product.installDir}`,
    );
  }
});

const analyze = onPath('systemd-analyze');
const noAnalyze = 'systemd-analyze is not on PATH (apt-get install systemd): unit verification skipped';

t.test('systemd-analyze verify and security (offline)', { skip: analyze ? false : noAnalyze }, async (t) => {
  if (!analyze) return;
  // verify checks that ExecStart's executable exists: use this node when /usr/bin/node is not it
  const dir = t.testdir();
  const files = Object.values(UNITS).map(({ file }) => {
    const target = path.join(dir, file);
    let text = fs.readFileSync(repo('deploy/systemd', file), 'utf8');
    if (!fs.existsSync('/usr/bin/node')) text = text.replaceAll('/usr/bin/node ', `${process.execPath} `);
    fs.writeFileSync(target, text);
    return target;
  });
  const verify = spawnSync(analyze, ['verify', ...files], { encoding: 'utf8' });
  t.equal(verify.status, 0, `systemd-analyze verify: ${verify.stderr}`);
  // an unknown or misspelt directive is only a warning (exit 0): any output fails here
  t.equal(verify.stderr.trim(), '', 'no warnings');

  for (const [i, spec] of Object.values(UNITS).entries()) {
    // --threshold counts in tenths of the exposure level it prints
    const security = spawnSync(
      analyze,
      ['security', '--offline=true', `--threshold=${spec.maxExposure * 10}`, '--no-pager', files[i]!],
      { encoding: 'utf8' },
    );
    const level = /Overall exposure level.*/.exec(security.stdout)?.[0] ?? security.stderr;
    t.equal(security.status, 0, `${spec.file}: exposure at most ${spec.maxExposure} (${level})`);
  }
});

// -------------------------------------------------------------------- Windows service (WinSW)

/** A WinSW duration ("60 sec", "5 min", "1 day", "10sec") in seconds. */
function winswSeconds(value: string | undefined): number {
  const units: Record<string, number> = { sec: 1, min: 60, hour: 3600, day: 86400 };
  const match = /^(\d+)\s*(sec|min|hour|day)?s?$/.exec((value ?? '').trim());
  if (!match) throw new Error(`not a WinSW duration: "${value}"`);
  return Number(match[1]) * (units[match[2] ?? 'sec'] ?? NaN);
}

/** A PowerShell script's parameters (`[string] $Name`, `[switch] $Name`) with their defaults. */
function psParameters(script: string): Map<string, string | undefined> {
  const block = /^param\(([\s\S]*?)^\)/m.exec(script)?.[1] ?? '';
  const found = block.matchAll(/\[(?:string|switch)\]\s*\$(\w+)(?:\s*=\s*'([^']*)')?/g);
  return new Map([...found].map(([, name = '', value]) => [name, value]));
}

t.test('deploy/windows: the WinSW service XML and the install/uninstall scripts', async (t) => {
  const xml = parseXml(fs.readFileSync(repo('deploy/windows/patchbay-client.xml'), 'utf8'));
  const one = (name: string): XmlElement => {
    const found = xml.children.filter((c) => c.name === name);
    t.equal(found.length, 1, `one <${name}>`);
    return found[0] ?? { name, attributes: {}, children: [], text: '' };
  };
  t.equal(xml.name, 'service');
  t.equal(one('id').text, 'patchbay-client');
  t.match(
    one('arguments').text,
    /^"[^"]+\\packages\\client-daemon\\bin\\patchbay-client\.js" --config "[^"]+\.json" run$/,
  );
  t.same(
    one('serviceaccount').children.map((c) => [c.name, c.text]),
    [['user', 'LocalSystem']],
  );
  t.equal(
    one('stopparentprocessfirst').text,
    'true',
    'node gets the Ctrl+C first, its installer is not killed',
  );
  t.ok(
    winswSeconds(one('stoptimeout').text) >= DEFAULT_TIMEOUT_SECONDS + 5,
    `stoptimeout covers an install in flight (${DEFAULT_TIMEOUT_SECONDS} s) and a margin`,
  );
  const onFailure = xml.children
    .filter((c) => c.name === 'onfailure')
    .map((c) => [c.attributes.action, winswSeconds(c.attributes.delay)]);
  t.same(onFailure, [
    ['restart', 60],
    ['restart', 60],
    ['restart', 300],
  ]);
  t.equal(winswSeconds(one('resetfailure').text), 86400, 'failure count reset after a day');
  const dataDir = one('workingdirectory').text;
  t.ok(isInside(dataDir, one('logpath').text, 'win32'), "the service's logs are in the data directory");
  t.equal(one('log').attributes.mode, 'roll-by-size');

  const install = fs.readFileSync(repo('deploy/windows/install-service.ps1'), 'utf8');
  const uninstall = fs.readFileSync(repo('deploy/windows/uninstall-service.ps1'), 'utf8');
  for (const [name, script] of [
    ['install-service.ps1', install],
    ['uninstall-service.ps1', uninstall],
  ] as const) {
    t.match(script, /^#Requires -RunAsAdministrator$/m, `${name}: needs an elevated shell`);
    t.match(script, /^Set-StrictMode -Version Latest$/m, `${name}: strict mode`);
    t.match(script, /^\$ErrorActionPreference = 'Stop'$/m, `${name}: errors stop it`);
    t.match(script, /^\s*exit 1$/m, `${name}: a failure exits non-zero`);
  }
  // the SCM-level recovery: the same actions as the XML's <onfailure>, the same reset
  const recovery = /'sc\.exe' @\('failure', \$ServiceName, 'reset=', '(\d+)', 'actions=', '([^']+)'\)/.exec(
    install,
  );
  t.equal(
    Number(recovery?.[1]),
    winswSeconds(one('resetfailure').text),
    'sc.exe failure reset= as <resetfailure>',
  );
  t.equal(
    recovery?.[2],
    onFailure.map(([action, delay]) => `${action}/${Number(delay) * 1000}`).join('/'),
    'sc.exe failure actions= as <onfailure>',
  );
  t.match(install, /'sc\.exe' @\('failureflag', \$ServiceName, '1'\)/, 'an error exit counts as a failure');
  t.match(
    install,
    /'\/inheritance:r', '\/grant:r'\) \+ \$PrivateGrants/,
    'the data directory: no inherited access',
  );
  t.match(
    install,
    /@\('\*S-1-5-18:\(OI\)\(CI\)F', '\*S-1-5-32-544:\(OI\)\(CI\)F'\)/,
    'SYSTEM, Administrators by SID',
  );
  t.match(
    install,
    /'\/setowner', '\*S-1-5-32-544', '\/T'/,
    'Administrators own the tree: a user who made it first cannot keep it',
  );
  for (const dir of ['(Split-Path -Parent $ConfigFile)', '$DataDir', '$ServiceDir']) {
    t.ok(install.split('\n').includes(`  Set-PrivateAcl ${dir}`), `${dir} is made private`);
  }

  // the install script's defaults are the XML's paths; every parameter is documented, and the docs name no other
  const installParams = psParameters(install);
  const uninstallParams = psParameters(uninstall);
  t.equal(installParams.get('DataDir'), dataDir, '-DataDir default = <workingdirectory>');
  t.equal(uninstallParams.get('DataDir'), dataDir, "uninstall's -DataDir default = <workingdirectory>");
  t.equal(installParams.get('NodeExe'), one('executable').text, '-NodeExe default = <executable>');
  t.match(
    one('arguments').text,
    `"${installParams.get('ConfigFile')}"`,
    '-ConfigFile default in <arguments>',
  );
  const docs = fs.readFileSync(repo('docs/windows.md'), 'utf8');
  const section = /^## The client as a Windows service$([\s\S]*?)(?=^## )/m.exec(docs)?.[1] ?? '';
  const documented = new Set([...section.matchAll(/`-([A-Z][A-Za-z]+)\b/g)].map((m) => m[1]));
  const all = new Set([...installParams.keys(), ...uninstallParams.keys()]);
  t.same(
    [...documented].filter((p) => !all.has(p!)),
    [],
    'every parameter the docs name exists',
  );
  t.same(
    [...all].filter((p) => !documented.has(p)),
    [],
    'every parameter is documented',
  );
});
