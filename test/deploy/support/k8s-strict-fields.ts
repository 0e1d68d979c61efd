import { join } from 'node:path';

import * as ts from 'typescript';

import type { K8sObject } from './k8s-manifests';
import { ROOT } from './k8s-manifests';

/** The kubernetes-models module whose `I<Kind>` interface describes an object. */
function typeModule(object: K8sObject): string {
  if (object.apiVersion === 'monitoring.coreos.com/v1') {
    return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/${object.kind}`;
  }
  return `kubernetes-models/${object.apiVersion}/${object.kind}`;
}

/**
 * Fields the API does not know (a misspelt `readOnlyRootFileSystem`...), which the schemas
 * let through: each object becomes a TypeScript literal typed by its kubernetes-models
 * interface, and the compiler's excess-property check names every unknown field at any depth.
 */
export function unknownFields(objects: K8sObject[]): string[] {
  const file = join(ROOT, 'test', 'deploy', '__k8s-strict-fields__.ts');
  const imports = objects.map(
    (object, i) => `import type { I${object.kind} as T${i} } from '${typeModule(object)}';`,
  );
  // The first line of each object's literal, to name the object a diagnostic falls in.
  const starts: number[] = [];
  let line = imports.length + 1;
  const literals = objects.map((object, i) => {
    const literal = `export const o${i}: T${i} = ${JSON.stringify(object, null, 1)};`;
    starts.push(line);
    line += literal.split('\n').length;
    return literal;
  });
  const text = [...imports, ...literals].join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    target: ts.ScriptTarget.ES2022,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, ...rest) =>
    name === file
      ? ts.createSourceFile(name, text, version)
      : getSourceFile(name, version, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const source = program.getSourceFile(file);
  return ts.getPreEmitDiagnostics(program, source).map((d) => {
    const at =
      d.start === undefined || !source ? 0 : source.getLineAndCharacterOfPosition(d.start).line + 1;
    const index = starts.findLastIndex((start) => start <= at);
    const object = objects[index];
    const ref = object ? `${object.kind}/${object.metadata.name}` : '(imports)';
    return `${ref}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}
