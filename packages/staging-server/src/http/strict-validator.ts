// A validator compiler for routes whose input must be checked exactly as sent.
// fastify's default Ajv coerces types ("17" passes as 17) and may drop properties;
// for client reports that would store something other than what the client said,
// so these routes compile their schemas with this Ajv (no coercion, no removal, no
// defaults). Fastify formats its errors as usual: "body/events/0/seq must be integer".
import { createRequire } from 'node:module';
import type { FastifySchemaCompiler } from 'fastify';

interface AjvValidateFunction {
  (data: unknown): boolean;
  errors?: unknown[] | null;
}

interface AjvInstance {
  compile(schema: unknown): AjvValidateFunction;
}

type AjvConstructor = new (options: Record<string, unknown>) => AjvInstance;
type AddFormats = (ajv: AjvInstance) => void;

// TODO(core): move to core (or add ajv ^8 + ajv-formats ^3 to staging-server's
// dependencies). Until then Ajv 8 is loaded from @patchbay/core's own dependency:
// the root node_modules holds Ajv 6 (hoisted for eslint), which a plain import would get.
function loadAjv(): { Ajv: AjvConstructor; addFormats: AddFormats } {
  const requireFromCore = createRequire(import.meta.resolve('@patchbay/core'));
  const ajvModule = requireFromCore('ajv') as { Ajv?: AjvConstructor; default?: AjvConstructor };
  const formatsModule = requireFromCore('ajv-formats') as { default?: AddFormats } & AddFormats;
  const Ajv = ajvModule.Ajv ?? ajvModule.default;
  if (Ajv === undefined) throw new Error('Ajv 8 could not be loaded from @patchbay/core');
  return { Ajv, addFormats: formatsModule.default ?? formatsModule };
}

let strictAjv: AjvInstance | undefined;

function getStrictAjv(): AjvInstance {
  if (strictAjv === undefined) {
    const { Ajv, addFormats } = loadAjv();
    strictAjv = new Ajv({
      coerceTypes: false,
      removeAdditional: false,
      useDefaults: false,
      allErrors: false,
      strict: false,
    });
    addFormats(strictAjv);
  }
  return strictAjv;
}

// One compiled function per schema object: Ajv refuses to compile a second schema
// with the same $id (REPORT_SCHEMA has one), and every app built in a process reuses it.
const compiled = new WeakMap<object, AjvValidateFunction>();

export const strictValidatorCompiler: FastifySchemaCompiler<unknown> = ({ schema }) => {
  let validate = compiled.get(schema as object);
  if (validate === undefined) {
    validate = getStrictAjv().compile(schema);
    compiled.set(schema as object, validate);
  }
  return validate as ReturnType<FastifySchemaCompiler<unknown>>;
};
