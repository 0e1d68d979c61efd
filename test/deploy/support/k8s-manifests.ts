import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { parseAllDocuments } from 'yaml';

import { requireTool } from './tools';

export const ROOT = join(__dirname, '..', '..', '..');
export const K8S_DIR = join(ROOT, 'k8s');
export const OVERLAYS = ['dev', 'staging', 'prod'] as const;
export type Overlay = (typeof OVERLAYS)[number];

/** A rendered object: every kind is checked against its schema separately. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

const INSTALL_KUBECTL =
  "kubectl 1.27 or later, from the pkgs.k8s.io apt repository or https://kubernetes.io/docs/tasks/tools/ (Debian's kubernetes-client 1.20 is too old)";

/**
 * The manifests are proved with kustomize 5 (kubectl 1.27+); kubectl 1.20's kustomize 2
 * reads neither components nor `labels`.
 */
const MIN_KUSTOMIZE_MAJOR = 5;

export function kubectl(): string {
  const path = requireTool('kubectl', INSTALL_KUBECTL);
  const version = JSON.parse(
    execFileSync(path, ['version', '--client', '-o', 'json'], { encoding: 'utf8' }),
  ) as { kustomizeVersion?: string };
  const major = Number(/^v?(\d+)\./.exec(version.kustomizeVersion ?? '')?.[1] ?? 0);
  if (major < MIN_KUSTOMIZE_MAJOR) {
    throw new Error(
      `kubectl at ${path} embeds kustomize ${version.kustomizeVersion ?? '(unknown)'}; install ${INSTALL_KUBECTL}`,
    );
  }
  return path;
}

/** `kubectl kustomize <dir>`, parsed: what `kubectl apply -k <dir>` would send. */
export function render(dir: string): K8sObject[] {
  const text = execFileSync(kubectl(), ['kustomize', dir], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

export function renderOverlay(overlay: Overlay): K8sObject[] {
  return render(join(K8S_DIR, 'overlays', overlay));
}

export interface ValidationResult {
  ref: string;
  errors: string[];
}

/** Schema validation by kubernetes-models, in a Node process (support/k8s-validate.mjs). */
export function validateObjects(objects: K8sObject[]): ValidationResult[] {
  const out = execFileSync(process.execPath, [join(__dirname, 'k8s-validate.mjs')], {
    input: JSON.stringify(objects),
    encoding: 'utf8',
  });
  return JSON.parse(out) as ValidationResult[];
}

export function byKind<T = K8sObject>(objects: K8sObject[], kind: string): (K8sObject & T)[] {
  return objects.filter((o) => o.kind === kind) as (K8sObject & T)[];
}

export function named<T = K8sObject>(
  objects: K8sObject[],
  kind: string,
  name: string,
): K8sObject & T {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name} in the rendered manifests`);
  return found as K8sObject & T;
}

/** A pod template of a Deployment or Job, with the name of its owner. */
export interface Workload {
  ref: string;
  kind: 'Deployment' | 'Job';
  labels: Record<string, string>;
  pod: IPodSpec;
}

export function workloads(objects: K8sObject[]): Workload[] {
  return objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'Job')
    .map((o) => {
      const spec = o.spec as {
        template: { metadata?: { labels?: Record<string, string> }; spec: IPodSpec };
      };
      return {
        ref: `${o.kind}/${o.metadata.name}`,
        kind: o.kind as Workload['kind'],
        labels: spec.template.metadata?.labels ?? {},
        pod: spec.template.spec,
      };
    });
}

/** Where a container's variable comes from: a literal value, or a Secret's key. */
export type EnvSource =
  | { kind: 'value'; value: string; from: string }
  | { kind: 'secret'; secret: string; key: string; optional: boolean }
  | { kind: 'field'; path: string };

/**
 * A container's environment as Kubernetes builds it: envFrom ConfigMaps first, then env,
 * which wins. A Secret in envFrom would hide its variable names from these proofs, so it is
 * refused here, like a ConfigMap the manifests do not contain.
 */
export function containerEnv(container: IContainer, objects: K8sObject[]): Map<string, EnvSource> {
  const env = new Map<string, EnvSource>();
  for (const from of container.envFrom ?? []) {
    if (from.secretRef) {
      throw new Error(
        `${container.name}: envFrom a Secret hides its variable names; use secretKeyRef`,
      );
    }
    const name = from.configMapRef?.name;
    if (name === undefined) throw new Error(`${container.name}: envFrom without a configMapRef`);
    const data = named<{ data?: Record<string, string> }>(objects, 'ConfigMap', name).data ?? {};
    for (const [key, value] of Object.entries(data)) {
      env.set(`${from.prefix ?? ''}${key}`, { kind: 'value', value, from: `ConfigMap/${name}` });
    }
  }
  for (const variable of container.env ?? []) {
    const source = variable.valueFrom;
    if (source?.secretKeyRef) {
      env.set(variable.name, {
        kind: 'secret',
        secret: source.secretKeyRef.name ?? '',
        key: source.secretKeyRef.key,
        optional: source.secretKeyRef.optional ?? false,
      });
    } else if (source?.configMapKeyRef) {
      const ref = source.configMapKeyRef;
      const data = named<{ data?: Record<string, string> }>(
        objects,
        'ConfigMap',
        ref.name ?? '',
      ).data;
      const value = data?.[ref.key];
      if (value === undefined)
        throw new Error(`${variable.name}: ConfigMap key ${ref.key} is missing`);
      env.set(variable.name, { kind: 'value', value, from: `ConfigMap/${ref.name}` });
    } else if (source?.fieldRef || source?.resourceFieldRef) {
      env.set(variable.name, {
        kind: 'field',
        path: source.fieldRef?.fieldPath ?? source.resourceFieldRef?.resource ?? '',
      });
    } else {
      env.set(variable.name, { kind: 'value', value: variable.value ?? '', from: 'env' });
    }
  }
  return env;
}

/** The literal value of a variable, or undefined when unset (secrets are never read). */
export function literal(env: Map<string, EnvSource>, name: string): string | undefined {
  const source = env.get(name);
  if (source === undefined) return undefined;
  if (source.kind !== 'value')
    throw new Error(`${name} must be a literal value here, not a ${source.kind}`);
  return source.value === '' ? undefined : source.value;
}

/** What the manifests must agree with in docker/Dockerfile's final stage. */
export interface ImageFacts {
  workdir: string;
  user: number;
  group: number | undefined;
  cmd: string[];
}

export function imageFacts(): ImageFacts {
  const text = readFileSync(join(ROOT, 'docker', 'Dockerfile'), 'utf8');
  const stages = text.split(/^FROM\s/m);
  const runtime = stages[stages.length - 1] ?? '';
  const last = (pattern: RegExp): RegExpMatchArray => {
    const matches = [...runtime.matchAll(pattern)];
    const match = matches[matches.length - 1];
    if (!match) throw new Error(`docker/Dockerfile: no ${String(pattern)} in the final stage`);
    return match;
  };
  const user = last(/^USER\s+(\d+)(?::(\d+))?\s*$/gm);
  return {
    workdir: last(/^WORKDIR\s+(\S+)\s*$/gm)[1],
    user: Number(user[1]),
    group: user[2] === undefined ? undefined : Number(user[2]),
    cmd: JSON.parse(last(/^CMD\s+(\[.*\])\s*$/gm)[1]) as string[],
  };
}
