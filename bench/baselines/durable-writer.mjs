// Reference for the sync case: the disk's durable write rate — COUNT files of SIZE bytes
// written and fsynced, CONCURRENCY at a time, as a sync commits blobs (it fsyncs each one
// before the rename). curl does not fsync, so this is a limit curl's figure does not show.
//   node durable-writer.mjs DIR SIZE COUNT [CONCURRENCY]
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';

const [dir, sizeArg, countArg, concurrencyArg] = process.argv.slice(2);
const size = Number(sizeArg);
const count = Number(countArg);
const concurrency = Number(concurrencyArg ?? 4);
const block = randomBytes(1 << 20);
mkdirSync(dir, { recursive: true });

async function writeOne(i) {
  const handle = await open(path.join(dir, `f${i}`), 'w');
  try {
    for (let offset = 0; offset < size; offset += block.length) {
      await handle.write(block, 0, Math.min(block.length, size - offset));
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

let next = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < count) await writeOne(next++);
  }),
);
