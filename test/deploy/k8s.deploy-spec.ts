import 'reflect-metadata';

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';

import { HealthController } from '@keel/health';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IService } from 'kubernetes-models/v1/Service';
import { parse } from 'yaml';

import { ENV_VARIABLE_NAMES, envSchema, productionProblems } from '../../src/config/env.schema';
import type { EnvSource, K8sObject, Overlay, Workload } from './support/k8s-manifests';
import {
  byKind,
  containerEnv,
  imageFacts,
  K8S_DIR,
  literal,
  named,
  OVERLAYS,
  render,
  renderOverlay,
  ROOT,
  validateObjects,
  workloads,
} from './support/k8s-manifests';
import { unknownFields } from './support/k8s-strict-fields';

type EnvName = keyof typeof envSchema.shape;

/**
 * After drain + timeout (+ the runs' grace on a worker), the app still closes Redis and the
 * database, hands runs back to the queue and flushes telemetry: the kubelet's SIGKILL must
 * come at least this much later.
 */
const SHUTDOWN_MARGIN_MS = 10_000;

/** Settings production refuses, or that only make sense on a laptop. */
const DEV_ONLY = ['DEBUG_ROUTES', 'ALLOW_SQLITE_IN_PRODUCTION', 'METRICS_PUBLIC'] as const;

const rendered = new Map<Overlay, K8sObject[]>();
function objectsOf(overlay: Overlay): K8sObject[] {
  let objects = rendered.get(overlay);
  if (!objects) rendered.set(overlay, (objects = renderOverlay(overlay)));
  return objects;
}

/** GET routes of the health controller, as Nest registers them (no global prefix). */
function healthRoutes(): Set<string> {
  const base = Reflect.getMetadata(PATH_METADATA, HealthController) as string;
  const routes = new Set<string>();
  const proto = HealthController.prototype as unknown as Record<string, unknown>;
  for (const key of Object.getOwnPropertyNames(proto)) {
    const handler = proto[key];
    if (typeof handler !== 'function' || key === 'constructor') continue;
    const path = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
    const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
    if (path === undefined || method !== RequestMethod.GET) continue;
    routes.add(`/${[base, path].filter((p) => p && p !== '/').join('/')}`);
  }
  return routes;
}

/** Where the app writes by default (SQLite's folder): `./data` under the image's WORKDIR. */
function dataDir(): string {
  const url = envSchema.shape.DATABASE_URL.parse(undefined);
  const relative = posix.dirname(url.slice('sqlite:'.length));
  return posix.join(imageFacts().workdir, relative);
}

/** The value the app runs with: the manifest's literal, else the schema's default. */
function effective(env: Map<string, EnvSource>, name: EnvName): unknown {
  return envSchema.shape[name].parse(literal(env, name));
}

function numberOf(env: Map<string, EnvSource>, name: EnvName): number {
  const value = effective(env, name);
  if (typeof value !== 'number') throw new Error(`${name} is not a number`);
  return value;
}

function mainContainer(workload: Workload): IContainer {
  const [container, ...rest] = workload.pod.containers;
  if (!container || rest.length > 0) throw new Error(`${workload.ref}: expected one container`);
  return container;
}

function portNumber(container: IContainer, port: number | string | undefined): number {
  if (typeof port === 'number') return port;
  const found = container.ports?.find((p) => p.name === port);
  if (!found) throw new Error(`${container.name}: no port named ${String(port)}`);
  return found.containerPort;
}

/** How long a preStop hook delays SIGTERM; only the kubelet's sleep action is measurable. */
function preStopMs(container: IContainer): number {
  const preStop = container.lifecycle?.preStop;
  if (preStop === undefined) return 0;
  if (preStop.sleep && Object.keys(preStop).length === 1) return preStop.sleep.seconds * 1000;
  throw new Error(`${container.name}: a preStop other than sleep cannot be checked`);
}

describe('Kubernetes manifests (k8s/)', () => {
  describe('render', () => {
    it.each(['base', ...OVERLAYS.map((o) => `overlays/${o}`)])(
      '%s renders with kubectl kustomize',
      (dir) => {
        expect(render(join(K8S_DIR, dir)).length).toBeGreaterThan(0);
      },
    );

    // A component renders only inside a kustomization: staging and prod include it.
    it.each(OVERLAYS)('%s includes components/monitoring unless it is dev', (overlay) => {
      const kinds = objectsOf(overlay).map((o) => o.kind);
      const monitoring = ['ServiceMonitor', 'PrometheusRule'].filter((k) => kinds.includes(k));
      expect(monitoring).toEqual(overlay === 'dev' ? [] : ['ServiceMonitor', 'PrometheusRule']);
    });
  });

  describe.each(OVERLAYS)('%s', (overlay) => {
    const objects = () => objectsOf(overlay);
    const deployments = () => workloads(objects()).filter((w) => w.kind === 'Deployment');

    it('validates every object against the Kubernetes and prometheus-operator schemas', () => {
      const results = validateObjects(objects());
      expect(results).toHaveLength(objects().length);
      expect(results.filter((r) => r.errors.length > 0)).toEqual([]);
    });

    it('has no field the API does not know (the schemas allow unknown ones)', () => {
      expect(unknownFields(objects())).toEqual([]);
    });

    it('has the API and worker Deployments, their Service, HPAs, PDBs, policies and the migration Job', () => {
      const refs = objects().map((o) => `${o.kind}/${o.metadata.name}`);
      for (const ref of [
        'Deployment/keel-api',
        'Deployment/keel-worker',
        'Service/keel',
        'HorizontalPodAutoscaler/keel-api',
        'HorizontalPodAutoscaler/keel-worker',
        'PodDisruptionBudget/keel-api',
        'PodDisruptionBudget/keel-worker',
        'ServiceAccount/keel',
        'Job/keel-migrate',
      ]) {
        expect(refs).toContain(ref);
      }
      expect(byKind(objects(), 'NetworkPolicy').length).toBeGreaterThan(0);
      const roles = deployments().map((w) =>
        literal(containerEnv(mainContainer(w), objects()), 'APP_ROLE'),
      );
      expect(roles.sort()).toEqual(['api', 'worker']);
    });

    it('probes the paths the health controller serves, on the port the app listens on', () => {
      const routes = healthRoutes();
      const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
      const expected: Record<'startupProbe' | 'readinessProbe' | 'livenessProbe', string> = {
        startupProbe: '/health/startup',
        readinessProbe: '/health/ready',
        livenessProbe: '/health/live',
      };
      for (const workload of deployments()) {
        const container = mainContainer(workload);
        const env = containerEnv(container, objects());
        const port = numberOf(env, 'PORT');
        for (const [kind, path] of Object.entries(expected)) {
          const probe = container[kind as keyof typeof expected];
          expect({ ref: workload.ref, kind, path: probe?.httpGet?.path }).toEqual({
            ref: workload.ref,
            kind,
            path,
          });
          expect(routes).toContain(path);
          expect(readme).toContain(`\`GET ${path}\``);
          expect(portNumber(container, probe?.httpGet?.port)).toBe(port);
        }
        expect(portNumber(container, 'http')).toBe(port);
      }
    });

    it('routes the Service to the container ports the app listens on', () => {
      const api = deployments().find((w) => w.ref === 'Deployment/keel-api');
      if (!api) throw new Error('no keel-api');
      const container = mainContainer(api);
      const env = containerEnv(container, objects());
      for (const service of byKind<IService>(objects(), 'Service')) {
        for (const port of service.spec?.ports ?? []) {
          const workload = deployments().find((w) =>
            Object.entries(service.spec?.selector ?? {}).every(([k, v]) => w.labels[k] === v),
          );
          if (!workload) throw new Error(`Service/${service.metadata.name} selects no Deployment`);
          const target = portNumber(mainContainer(workload), port.targetPort);
          const wanted =
            port.name === 'metrics' ? numberOf(env, 'METRICS_PORT') : numberOf(env, 'PORT');
          expect({ service: service.metadata.name, port: port.name, target }).toEqual({
            service: service.metadata.name,
            port: port.name,
            target: wanted,
          });
        }
      }
    });

    it('sets only variables the app reads (X or X_FILE), with values its schema accepts', () => {
      const names = new Set<string>(ENV_VARIABLE_NAMES);
      const unknown: string[] = [];
      const invalid: string[] = [];
      for (const workload of workloads(objects())) {
        for (const container of [
          ...workload.pod.containers,
          ...(workload.pod.initContainers ?? []),
        ]) {
          for (const [name, source] of containerEnv(container, objects())) {
            const base = name.endsWith('_FILE') ? name.slice(0, -'_FILE'.length) : name;
            if (!names.has(name) && !names.has(base)) {
              unknown.push(`${workload.ref}: ${name}`);
              continue;
            }
            if (source.kind === 'value' && names.has(name)) {
              const result = envSchema.shape[name as EnvName].safeParse(source.value);
              if (!result.success) invalid.push(`${workload.ref}: ${name}=${source.value}`);
            }
          }
        }
      }
      expect(unknown).toEqual([]);
      expect(invalid).toEqual([]);
    });

    it('gives each pod a grace period longer than its preStop, drain, shutdown timeout and run grace', () => {
      for (const workload of deployments()) {
        const container = mainContainer(workload);
        const env = containerEnv(container, objects());
        const role = effective(env, 'APP_ROLE');
        const needed =
          preStopMs(container) +
          numberOf(env, 'SHUTDOWN_DRAIN_DELAY_MS') +
          numberOf(env, 'SHUTDOWN_TIMEOUT_MS') +
          (role === 'api' ? 0 : numberOf(env, 'RUNS_SHUTDOWN_GRACE_MS')) +
          SHUTDOWN_MARGIN_MS;
        const grace = (workload.pod.terminationGracePeriodSeconds ?? 30) * 1000;
        expect({ ref: workload.ref, enough: grace >= needed, grace, needed }).toEqual({
          ref: workload.ref,
          enough: true,
          grace,
          needed,
        });
      }
    });

    it('drains API pods before closing the listener, and not workers', () => {
      for (const workload of deployments()) {
        const env = containerEnv(mainContainer(workload), objects());
        const drain = numberOf(env, 'SHUTDOWN_DRAIN_DELAY_MS');
        if (literal(env, 'APP_ROLE') === 'api') expect(drain).toBeGreaterThanOrEqual(5_000);
        else expect(drain).toBe(0);
      }
    });

    it('runs every pod non-root, read-only, without capabilities or a service account token', () => {
      for (const account of byKind<{ automountServiceAccountToken?: boolean }>(
        objects(),
        'ServiceAccount',
      )) {
        expect(account.automountServiceAccountToken).toBe(false);
      }
      for (const workload of workloads(objects())) {
        const { pod } = workload;
        expect({ ref: workload.ref, automount: pod.automountServiceAccountToken }).toEqual({
          ref: workload.ref,
          automount: false,
        });
        expect(pod.securityContext?.runAsNonRoot).toBe(true);
        expect(pod.securityContext?.seccompProfile?.type).toBe('RuntimeDefault');
        expect(pod.hostNetwork ?? false).toBe(false);
        for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
          const security = container.securityContext ?? {};
          expect({ ref: workload.ref, container: container.name, security }).toMatchObject({
            ref: workload.ref,
            container: container.name,
            security: {
              runAsNonRoot: true,
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              capabilities: { drop: ['ALL'] },
              seccompProfile: { type: 'RuntimeDefault' },
            },
          });
          expect(security.privileged ?? false).toBe(false);
          expect(security.capabilities?.add ?? []).toEqual([]);
          // A read-only root needs somewhere to write: /tmp, and the data dir for the app.
          const mounts = new Map((container.volumeMounts ?? []).map((m) => [m.mountPath, m.name]));
          const wanted = workload.kind === 'Deployment' ? ['/tmp', dataDir()] : ['/tmp'];
          for (const path of wanted) {
            const volume = pod.volumes?.find((v) => v.name === mounts.get(path));
            expect({ ref: workload.ref, path, emptyDir: volume?.emptyDir !== undefined }).toEqual({
              ref: workload.ref,
              path,
              emptyDir: true,
            });
          }
          for (const resource of ['cpu', 'memory']) {
            expect(container.resources?.requests?.[resource]).toBeDefined();
            expect(container.resources?.limits?.[resource]).toBeDefined();
          }
        }
      }
    });

    it('never holds a secret value, only references to keel-secrets (fake ones in dev)', () => {
      const secrets = byKind(objects(), 'Secret');
      if (overlay === 'dev') {
        expect(secrets.map((s) => s.metadata.name)).toEqual(['keel-secrets']);
        for (const value of Object.values(
          (secrets[0] as { data?: Record<string, string> }).data ?? {},
        )) {
          // Marked fake, or a URL with no credentials in it.
          expect(Buffer.from(value, 'base64').toString()).toMatch(
            /dev-only|^dev:|^[a-z]+:\/\/[^@]*$/,
          );
        }
      } else {
        expect(secrets).toEqual([]);
      }
      const sensitive = [
        'DATABASE_URL',
        'REDIS_URL',
        'JWT_SECRET',
        'ENCRYPTION_KEYS',
        'METRICS_TOKEN',
        'LLM_PROVIDERS',
        'ADMIN_PASSWORD',
        'SENTRY_DSN',
      ];
      for (const workload of workloads(objects())) {
        const env = containerEnv(mainContainer(workload), objects());
        for (const name of sensitive) {
          const source = env.get(name);
          if (source)
            expect({ ref: workload.ref, name, kind: source.kind }).toEqual({
              ref: workload.ref,
              name,
              kind: 'secret',
            });
        }
      }
    });

    it('starts the image as docker/Dockerfile does: its command, its user, its data dir', () => {
      const image = imageFacts();
      for (const workload of workloads(objects())) {
        const { pod } = workload;
        expect(pod.securityContext?.runAsUser).toBe(image.user);
        if (image.group !== undefined) expect(pod.securityContext?.runAsGroup).toBe(image.group);
        if (workload.kind === 'Deployment') {
          expect({ ref: workload.ref, command: mainContainer(workload).command }).toEqual({
            ref: workload.ref,
            command: image.cmd,
          });
        }
      }
      expect(dataDir()).toBe(posix.join(image.workdir, 'data'));
    });

    it('migrates with the Job, not at Deployment start', () => {
      const job = workloads(objects()).find((w) => w.ref === 'Job/keel-migrate');
      if (!job) throw new Error('no Job/keel-migrate');
      const command = mainContainer(job).command ?? [];
      expect(command).toEqual(['node', 'dist/src/database/migrate.js']);
      expect(existsSync(join(ROOT, 'src', 'database', 'migrate.ts'))).toBe(true);
      for (const workload of deployments()) {
        const env = containerEnv(mainContainer(workload), objects());
        expect(effective(env, 'DB_MIGRATE_ON_START')).toBe(false);
      }
    });

    it('scales the API on CPU and workers on the queue depth the app exports', () => {
      const api = named<IHorizontalPodAutoscaler>(objects(), 'HorizontalPodAutoscaler', 'keel-api');
      const worker = named<IHorizontalPodAutoscaler>(
        objects(),
        'HorizontalPodAutoscaler',
        'keel-worker',
      );
      expect(api.spec?.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'keel-api' });
      expect(worker.spec?.scaleTargetRef).toMatchObject({
        kind: 'Deployment',
        name: 'keel-worker',
      });
      expect(api.spec?.metrics?.map((m) => m.resource?.name)).toEqual(['cpu']);
      const external = worker.spec?.metrics?.find((m) => m.type === 'External');
      const metric = external?.external?.metric.name ?? '';
      expect(metric).toBe('keel_agent_run_queue_depth');
      const telemetry = readFileSync(join(ROOT, 'libs/agents/src/runs/run-telemetry.ts'), 'utf8');
      expect(telemetry).toContain(`name: '${metric}'`);
      for (const deployment of deployments()) {
        const spec = named<{ spec: { replicas?: number } }>(
          objects(),
          'Deployment',
          deployment.ref.split('/')[1],
        );
        // The HPA owns the replica count; a fixed one would be reset at every apply.
        expect(spec.spec.replicas).toBeUndefined();
      }
    });

    it('keeps a PodDisruptionBudget over each Deployment that still lets one pod go', () => {
      for (const workload of deployments()) {
        const pdb = named<IPodDisruptionBudget>(
          objects(),
          'PodDisruptionBudget',
          workload.ref.split('/')[1],
        );
        const selector = pdb.spec?.selector?.matchLabels ?? {};
        expect(Object.keys(selector).length).toBeGreaterThan(0);
        expect(Object.entries(selector).every(([k, v]) => workload.labels[k] === v)).toBe(true);
        expect(pdb.spec?.maxUnavailable).toBe(1);
      }
    });

    it('lets only the ingress controller reach the API port, and only Prometheus the metrics port', () => {
      const policies = byKind<INetworkPolicy>(objects(), 'NetworkPolicy');
      for (const workload of deployments()) {
        const container = mainContainer(workload);
        const selecting = policies.filter((p) =>
          Object.entries(p.spec?.podSelector?.matchLabels ?? {}).every(
            ([k, v]) => workload.labels[k] === v,
          ),
        );
        expect(selecting.some((p) => p.spec?.policyTypes?.includes('Ingress'))).toBe(true);
        expect(selecting.some((p) => p.spec?.policyTypes?.includes('Egress'))).toBe(true);
        for (const rule of selecting.flatMap((p) => p.spec?.ingress ?? [])) {
          expect(rule.ports?.length).toBeGreaterThan(0);
          expect(rule.from?.length).toBeGreaterThan(0);
          for (const port of rule.ports ?? []) {
            const number = portNumber(container, port.port);
            const peers = JSON.stringify(rule.from);
            if (number === portNumber(container, 'metrics')) expect(peers).toContain('prometheus');
            else expect(peers).toContain('ingress');
            expect(peers).not.toContain('ipBlock');
          }
        }
        const egressPorts = selecting
          .flatMap((p) => p.spec?.egress ?? [])
          .flatMap((rule) => (rule.ports ?? []).map((p) => p.port));
        expect(new Set(egressPorts)).toEqual(new Set([53, 5432, 6379, 4318, 443]));
        // The collector's port is the one the app is told to send traces to.
        const otlp = literal(containerEnv(container, objects()), 'OTEL_EXPORTER_OTLP_ENDPOINT');
        if (otlp !== undefined) {
          const url = new URL(otlp);
          const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
          expect(egressPorts).toContain(port);
        }
      }
    });

    if (overlay === 'dev') return;

    it('runs in production mode with no dev-only setting, and would pass the production checks', () => {
      for (const workload of workloads(objects())) {
        const env = containerEnv(mainContainer(workload), objects());
        expect(literal(env, 'NODE_ENV')).toBe('production');
        for (const name of DEV_ONLY) {
          expect({ ref: workload.ref, name, value: effective(env, name) }).toEqual({
            ref: workload.ref,
            name,
            value: false,
          });
        }
        // What the app's production check would see: secrets stand in as long opaque values.
        const raw: Record<string, string> = {};
        for (const [name, source] of env) {
          if (source.kind === 'value') raw[name] = source.value;
          else if (source.kind === 'secret' && !source.optional) {
            raw[name] = name === 'DATABASE_URL' ? 'postgres://from-secret/keel' : 'x'.repeat(64);
          }
        }
        expect({ ref: workload.ref, problems: productionProblems(raw) }).toEqual({
          ref: workload.ref,
          problems: [],
        });
      }
    });

    it('keeps /metrics off public traffic: its own port, and a token from the Secret', () => {
      for (const workload of deployments()) {
        const env = containerEnv(mainContainer(workload), objects());
        expect(literal(env, 'METRICS_PORT')).toBeDefined();
        expect(env.get('METRICS_TOKEN')).toMatchObject({
          kind: 'secret',
          secret: 'keel-secrets',
          optional: false,
        });
      }
      const monitor = named<{ spec: { endpoints: { port: string; authorization?: unknown }[] } }>(
        objects(),
        'ServiceMonitor',
        'keel',
      );
      for (const endpoint of monitor.spec.endpoints) {
        expect(endpoint.port).toBe('metrics');
        expect(endpoint.authorization).toEqual({
          type: 'Bearer',
          credentials: { name: 'keel-secrets', key: 'METRICS_TOKEN' },
        });
      }
    });

    it('loads the same rules as Prometheus (prometheus/rules/*.yml)', () => {
      const rule = named<{ spec: { groups: unknown[] } }>(objects(), 'PrometheusRule', 'keel');
      const groups = listRuleFiles().flatMap(
        (file) =>
          (parse(readFileSync(file, 'utf8')) as { groups?: unknown[] } | null)?.groups ?? [],
      );
      expect(rule.spec.groups).toEqual(groups);
    });
  });

  describe('overlays differ as intended', () => {
    const env = (overlay: Overlay) =>
      containerEnv(
        mainContainer(workloads(objectsOf(overlay)).find((w) => w.ref === 'Deployment/keel-api')!),
        objectsOf(overlay),
      );
    const hpa = (overlay: Overlay, name: string) =>
      named<IHorizontalPodAutoscaler>(objectsOf(overlay), 'HorizontalPodAutoscaler', name).spec;

    it('sets NODE_ENV in each overlay', () => {
      expect(OVERLAYS.map((o) => literal(env(o), 'NODE_ENV'))).toEqual([
        'development',
        'production',
        'production',
      ]);
    });

    it('keeps each overlay in its own namespace', () => {
      const namespaces = OVERLAYS.map(
        (o) => new Set(objectsOf(o).map((x) => x.metadata.namespace)),
      );
      for (const set of namespaces) expect(set.size).toBe(1);
      expect(new Set(namespaces.map((s) => [...s][0])).size).toBe(OVERLAYS.length);
    });

    it.each(['keel-api', 'keel-worker'])('sizes %s small in dev and larger in prod', (name) => {
      const [dev, staging, prod] = OVERLAYS.map((o) => hpa(o, name));
      expect(dev.minReplicas).toBe(1);
      expect(dev.maxReplicas).toBeLessThanOrEqual(2);
      expect(staging.minReplicas!).toBeGreaterThanOrEqual(dev.minReplicas!);
      expect(staging.maxReplicas).toBeGreaterThan(dev.maxReplicas);
      expect(prod.minReplicas!).toBeGreaterThan(dev.minReplicas!);
      expect(prod.minReplicas!).toBeGreaterThanOrEqual(staging.minReplicas!);
      expect(prod.maxReplicas).toBeGreaterThan(staging.maxReplicas);
      for (const spec of [dev, staging, prod])
        expect(spec.maxReplicas).toBeGreaterThan(spec.minReplicas!);
    });

    it('gives prod at least two API pods for a PodDisruptionBudget to protect', () => {
      expect(hpa('prod', 'keel-api').minReplicas!).toBeGreaterThanOrEqual(2);
    });
  });

  describe('PrometheusRule generation', () => {
    it('the committed prometheus-rule.yaml is what scripts/k8s-prometheus-rule.mjs generates now', () => {
      const script = join(ROOT, 'scripts', 'k8s-prometheus-rule.mjs');
      const fresh = execFileSync(process.execPath, [script, '--stdout'], { encoding: 'utf8' });
      const committed = readFileSync(
        join(K8S_DIR, 'components', 'monitoring', 'prometheus-rule.yaml'),
        'utf8',
      );
      expect(committed).toBe(fresh);
    });
  });
});

function listRuleFiles(): string[] {
  const dir = join(ROOT, 'prometheus', 'rules');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => join(dir, name));
}
