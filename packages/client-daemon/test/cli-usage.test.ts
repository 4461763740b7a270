// The command line itself (commander): bad usage is exit 2 in patchbay's error format, with
// the --json error document; help per command. The built bin as a child process (build first).
import t from 'tap';
import { runCli } from './fixtures/client.js';

interface ErrorDocument {
  error: { code: string; message: string; hint?: string };
}

t.test(
  'bad usage: exit 2, "patchbay-client: message" and a hint on stderr, the error document with --json',
  async (t) => {
    const cases: [string[], string, string][] = [
      [['frobnicate'], "unknown command 'frobnicate'", 'patchbay-client --help'],
      [['check', '--cascade'], "unknown option '--cascade'", 'patchbay-client check --help'],
      [['uninstall'], "missing required argument 'ID'", 'patchbay-client uninstall --help'],
      [
        ['history', '--type', 'reboot'],
        "option '--type <T>' argument 'reboot' is invalid. Allowed choices are check, download, install, uninstall, error.",
        'patchbay-client history --help',
      ],
      [
        ['install', '--all', '--critical'],
        "option '--all' cannot be used with option '--critical'",
        'patchbay-client install --help',
      ],
      [[], 'missing COMMAND', 'patchbay-client --help'],
    ];
    for (const [argv, message, help] of cases) {
      const what = argv.join(' ') || '(nothing)';
      const human = await runCli(argv);
      t.equal(human.code, 2, what);
      t.equal(
        human.stderr,
        `patchbay-client: ${message}\npatchbay-client: hint: run "${help}" for usage\n`,
        what,
      );
      t.equal(human.stdout, '', what);
      // --json after the bad part too: it is read from commander's parsed globals
      const json = await runCli([...argv, '--json']);
      t.equal(json.code, 2, `${what} --json`);
      t.match(
        JSON.parse(json.stdout) as ErrorDocument,
        {
          error: { code: 'PB_ERR_USAGE', message, hint: `run "${help}" for usage` },
        },
        `${what} --json`,
      );
    }
  },
);

t.test('--help per command and --version exit 0 on stdout', async (t) => {
  const install = await runCli(['install', '--help']);
  t.equal(install.code, 0);
  t.match(install.stdout, /^Usage: patchbay-client install \[options\] \[ID\.\.\.\]/);
  t.match(install.stdout, /--critical/);
  t.match(install.stdout, /Global Options:[^]*--server <URL>/);
  t.equal(install.stderr, '');
  const program = await runCli(['--help']);
  t.match(program.stdout, /^Usage: patchbay-client \[--config FILE\] \[--server URL\]\.\.\. /);
  for (const command of [
    'check',
    'download',
    'install',
    'uninstall',
    'status',
    'history',
    'run',
    'doctor',
    'detect',
  ])
    t.match(program.stdout, new RegExp(`^  ${command}\\b`, 'm'), command);
  const version = await runCli(['--version']);
  t.equal(version.code, 0);
  t.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
});
