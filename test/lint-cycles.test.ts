// The repository's eslint.config.js forbids import cycles in packages/*/src (issue 15): run
// ESLint with that config over real files of a throwaway package laid out the same way.
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import t from 'tap';

const CONFIG = fileURLToPath(new URL('../eslint.config.js', import.meta.url));

async function cycleMessages(files: Record<string, string>): Promise<string[]> {
  const cwd = t.testdir({ packages: { demo: { src: files } } });
  const eslint = new ESLint({ cwd, overrideConfigFile: CONFIG });
  const results = await eslint.lintFiles(['packages/demo/src/*.ts']);
  return results.flatMap((r) =>
    r.messages
      .filter((m) => m.ruleId === 'import-x/no-cycle' || m.fatal)
      .map((m) => `${r.filePath.slice(cwd.length + 1)}: ${m.ruleId}`),
  );
}

t.test('a value import back into the importer is a cycle, reported at both ends', async (t) => {
  const messages = await cycleMessages({
    'a.ts': "import { b } from './b.js';\nexport const a = (): number => b + 1;\n",
    'b.ts': "import { a } from './a.js';\nexport const b = 1;\nexport const twice = (): number => a() * 2;\n",
  });
  t.same(messages.sort(), [
    'packages/demo/src/a.ts: import-x/no-cycle',
    'packages/demo/src/b.ts: import-x/no-cycle',
  ]);
});

t.test('a cycle through a third module is found too', async (t) => {
  const messages = await cycleMessages({
    'a.ts': "import { b } from './b.js';\nexport const a = (): number => b();\n",
    'b.ts': "import { c } from './c.js';\nexport const b = (): number => c();\n",
    'c.ts':
      "import { a } from './a.js';\nexport const c = (): number => 1;\nexport const d = (): number => a();\n",
  });
  t.equal(messages.length, 3, messages.join('\n'));
});

t.test('a type-only import back is no cycle: it is gone at run time', async (t) => {
  const messages = await cycleMessages({
    'a.ts':
      "import { b } from './b.js';\nexport interface A {\n  n: number;\n}\nexport const a = (): A => ({ n: b });\n",
    'b.ts':
      "import type { A } from './a.js';\nexport const b = 1;\nexport const isA = (x: A): boolean => x.n === b;\n",
  });
  t.same(messages, []);
});
