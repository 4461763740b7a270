// @tufjs/models 4.1 builds and serialises a targets role's `targets` map with
// `reduce((acc, …) => ({ ...acc, … }))`, which copies the whole map once per target: quadratic.
// A product role with 5,000 targets took 1.4 s of a host's `check` in parsing alone and a
// 5,000-patch `import-feed` 80 s. Every verification still goes through @tufjs/models (the
// signatures are checked over the canonical JSON of `signed`, which these produce unchanged);
// this only replaces the two map copies with linear loops. Patched once, on the one copy of
// @tufjs/models the tree has (root package.json `overrides`), which tuf-js uses too.
import { TargetFile, Targets } from '@tufjs/models';

type TargetsFromJSON = typeof Targets.fromJSON;
type JSONData = Parameters<TargetsFromJSON>[0];

const PATCHED = Symbol.for('patchbay.linearTargets');

function patch(): void {
  const holder = Targets as unknown as Record<symbol, boolean>;
  if (holder[PATCHED]) return;
  holder[PATCHED] = true;

  const fromJSON: TargetsFromJSON = Targets.fromJSON.bind(Targets);
  Targets.fromJSON = (data: JSONData): Targets => {
    const { targets, ...rest } = data as Record<string, unknown>;
    if (
      targets !== undefined &&
      (typeof targets !== 'object' || targets === null || Array.isArray(targets))
    ) {
      throw new TypeError('targets must be an object');
    }
    // everything but the targets map through the library itself, then the map in one pass
    const result = fromJSON(rest as JSONData);
    const map = result.targets as Record<string, TargetFile>;
    for (const [path, target] of Object.entries((targets ?? {}) as Record<string, JSONData>)) {
      map[path] = TargetFile.fromJSON(path, target);
    }
    return result;
  };

  const toJSON = Targets.prototype.toJSON;
  Targets.prototype.toJSON = function linearToJSON(this: Targets) {
    const empty = Object.assign(Object.create(Object.getPrototypeOf(this) as object) as Targets, this, {
      targets: {},
    });
    const json = toJSON.call(empty);
    const targets: Record<string, unknown> = {};
    for (const [path, target] of Object.entries(this.targets)) targets[path] = target.toJSON();
    (json as Record<string, unknown>).targets = targets;
    return json;
  };
}

patch();
