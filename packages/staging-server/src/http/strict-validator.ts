// A validator compiler for routes whose input must be checked exactly as sent.
// fastify's default Ajv coerces types ("17" passes as 17) and may drop properties;
// for client reports that would store something other than what the client said,
// so these routes compile their schemas with this Ajv (no coercion, no removal, no
// defaults). Fastify formats its errors as usual: "body/events/0/seq must be integer".
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

type AjvValidateFunction = ReturnType<Ajv['compile']>;

let strictAjv: Ajv | undefined;

function getStrictAjv(): Ajv {
  if (strictAjv === undefined) {
    strictAjv = new Ajv({
      coerceTypes: false,
      removeAdditional: false,
      useDefaults: false,
      allErrors: false,
      strict: false,
    });
    addFormats.default(strictAjv);
  }
  return strictAjv;
}

// One compiled function per schema object: Ajv refuses to compile a second schema
// with the same $id (REPORT_SCHEMA has one), and every app built in a process reuses it.
const compiled = new WeakMap<object, AjvValidateFunction>();

export const strictValidatorCompiler: FastifySchemaCompiler<unknown> = ({ schema }) => {
  let validate = compiled.get(schema as object);
  if (validate === undefined) {
    validate = getStrictAjv().compile(schema as object);
    compiled.set(schema as object, validate);
  }
  return validate as ReturnType<FastifySchemaCompiler<unknown>>;
};
