// Loaded into every test process (.taprc node-arg), after tap's own hooks. tap's
// @tapjs/processinfo makes every descendant process record the files it loads, for
// coverage: it adds itself to NODE_OPTIONS and hooks spawn (process-on-spawn) to put it
// back into any child's env. Coverage is off here, and in the programs the tests start
// (hundreds of CLI runs and servers) that hook doubled the CPU of every start (measured:
// `patchbay-client check` 1.0 s of CPU without it, 2.0 s with it). So the test process
// keeps it and the processes it spawns start without it.
const options = process.env.NODE_OPTIONS;
if (options !== undefined) {
  const kept = options
    .split(/\s+/)
    .filter((option) => !option.includes('@tapjs/processinfo'))
    .join(' ')
    .trim();
  if (kept === '') delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = kept;
}
// process-on-spawn keeps its listeners in a global singleton; processinfo's is the one
// that merges its env into every spawn (its source names getEnvs). Others stay.
const spawnHooks = globalThis[Symbol.for('process-on-spawn@*:singletonId')];
if (spawnHooks && Array.isArray(spawnHooks.listeners)) {
  spawnHooks.listeners = spawnHooks.listeners.filter((listener) => !String(listener).includes('getEnvs'));
}
