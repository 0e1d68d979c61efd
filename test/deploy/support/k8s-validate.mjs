// @ts-check
/**
 * Validates Kubernetes objects against the API schemas of kubernetes-models (core API) and
 * @kubernetes-models/prometheus-operator (ServiceMonitor, PrometheusRule). Both packages
 * ship only ES modules, which Jest's CommonJS loader cannot import, so the proofs run this
 * file with Node: objects as a JSON array on stdin, one `{ ref, errors }` per object on
 * stdout. An object whose kind has no model is an error, never a pass.
 */
import { readFileSync } from 'node:fs';

/** @param {string} apiVersion @param {string} kind */
function modulePath(apiVersion, kind) {
  if (apiVersion === 'monitoring.coreos.com/v1') {
    return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/${kind}`;
  }
  return `kubernetes-models/${apiVersion}/${kind}`;
}

/**
 * kustomize wraps long base64 values of generated Secrets over lines; the API server's
 * decoder (Go's encoding/base64) skips line breaks, the schema's `byte` format does not.
 * @param {any} object
 */
function unwrapSecretData(object) {
  if (object.kind !== 'Secret' || !object.data) return object;
  const data = Object.fromEntries(
    Object.entries(object.data).map(([key, value]) => [key, String(value).replace(/[\r\n]/g, '')]),
  );
  return { ...object, data };
}

/** @param {{ apiVersion?: string, kind?: string, metadata?: { name?: string } }} object */
async function validate(object) {
  const ref = `${object.kind}/${object.metadata?.name ?? '?'}`;
  if (!object.apiVersion || !object.kind) return { ref, errors: ['no apiVersion or kind'] };
  let Model;
  try {
    Model = (await import(modulePath(object.apiVersion, object.kind)))[object.kind];
  } catch {
    return { ref, errors: [`no schema for ${object.apiVersion} ${object.kind}`] };
  }
  try {
    new Model(unwrapSecretData(object)).validate();
    return { ref, errors: [] };
  } catch (error) {
    return { ref, errors: [error instanceof Error ? error.message : String(error)] };
  }
}

const objects = JSON.parse(readFileSync(0, 'utf8'));
const results = await Promise.all(objects.map(validate));
process.stdout.write(JSON.stringify(results));
