// Loaded into every test process (.taprc node-arg) in place of tap's ts-node, which
// .taprc switches off (test-env TAP_TYPE_STRIP_ONLY=1: on Node 20 that only skips
// ts-node's registration). See typescript-transpile.mjs for why.
import { register } from 'node:module';

register('./typescript-hooks.mjs', import.meta.url);
