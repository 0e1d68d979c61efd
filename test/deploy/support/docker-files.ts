import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Instruction } from 'dockerfile-ast';
import { DockerfileParser, ModifiableInstruction } from 'dockerfile-ast';
import { parse } from 'yaml';

export const ROOT = join(__dirname, '..', '..', '..');
export const DOCKER_DIR = join(ROOT, 'docker');

/** One `FROM ... [AS name]` and the instructions up to the next FROM. */
export interface DockerStage {
  name: string | null;
  /** The image with the Dockerfile's global ARG defaults substituted. */
  image: string;
  instructions: Instruction[];
}

export interface ParsedDockerfile {
  stages: DockerStage[];
  /** Global `ARG NAME=default` values (before the first FROM). */
  args: Record<string, string>;
}

export function parseDockerfile(path = join(DOCKER_DIR, 'Dockerfile')): ParsedDockerfile {
  const dockerfile = DockerfileParser.parse(readFileSync(path, 'utf8'));
  const args: Record<string, string> = {};
  for (const arg of dockerfile.getInitialARGs()) {
    const property = arg.getProperty();
    const value = property?.getValue();
    if (property && value !== null && value !== undefined) args[property.getName()] = value;
  }
  const stages: DockerStage[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    const from = dockerfile.getFROMs().find((f) => f === instruction);
    if (from) {
      const image = (from.getImage() ?? '').replace(
        /\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g,
        (_, name: string) => args[name] ?? '',
      );
      stages.push({ name: from.getBuildStage(), image, instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push(instruction);
    }
  }
  return { stages, args };
}

export function instructionsOf(stage: DockerStage, keyword: string): Instruction[] {
  return stage.instructions.filter((i) => i.getKeyword() === keyword);
}

/** The exec form (`["node", "..."]`) of a CMD, ENTRYPOINT or `HEALTHCHECK CMD`, or null. */
export function execForm(instruction: Instruction): string[] | null {
  const content = (instruction.getArgumentsContent() ?? '').replace(/^CMD\s+/, '');
  try {
    const parsed: unknown = JSON.parse(content);
    return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? parsed : null;
  } catch {
    return null;
  }
}

/** `--name=value` flags of an instruction (`COPY --from=build`). */
export function flagOf(instruction: Instruction, name: string): string | null {
  if (!(instruction instanceof ModifiableInstruction)) return null;
  return (
    instruction
      .getFlags()
      .find((f) => f.getName() === name)
      ?.getValue() ?? null
  );
}

export interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  restart?: string;
  deploy?: { replicas?: number };
  environment?: Record<string, string | number | boolean | null>;
  secrets?: (string | { source: string; target?: string })[];
  volumes?: (string | { type: string; source?: string; target: string })[];
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  logging?: { driver?: string; options?: Record<string, string> };
  ports?: string[];
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  secrets?: Record<string, { file?: string }>;
  volumes?: Record<string, unknown>;
  [extension: string]: unknown;
}

/** docker/compose.yaml as Compose reads it: anchors and `<<` merge keys resolved. */
export function loadCompose(path = join(DOCKER_DIR, 'compose.yaml')): ComposeFile {
  return parse(readFileSync(path, 'utf8'), { merge: true }) as ComposeFile;
}

export function loadYaml<T>(path: string): T {
  return parse(readFileSync(path, 'utf8')) as T;
}

/**
 * Simple directives (`name args;`) of an nginx config, in order, with the names of the
 * blocks around each; enough to read timeouts and upstream servers. `nginx -t` checks syntax.
 */
export function nginxDirectives(
  text: string,
): { name: string; args: string[]; within: string[] }[] {
  const directives: { name: string; args: string[]; within: string[] }[] = [];
  const stack: string[] = [];
  const tokens = text.replace(/#[^\n]*/g, '').match(/'[^']*'|"[^"]*"|[{};]|[^\s{};]+/g);
  let current: string[] = [];
  for (const token of tokens ?? []) {
    if (token === '{') {
      stack.push(current.join(' '));
      current = [];
    } else if (token === '}') {
      stack.pop();
      current = [];
    } else if (token === ';') {
      if (current.length > 0) {
        directives.push({ name: current[0], args: current.slice(1), within: [...stack] });
      }
      current = [];
    } else {
      current.push(token);
    }
  }
  return directives;
}

/** nginx time (`60s`, `2m`, `150`) in milliseconds. */
export function nginxTimeMs(value: string): number {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(value);
  if (!match) throw new Error(`not an nginx time: ${value}`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[match[2] ?? 's'] ?? 1_000;
  return Number(match[1]) * unit;
}

/**
 * The root `.dockerignore` as Docker applies it: patterns relative to the context, `*` and
 * `?` within one path segment, `**` across segments, a pattern that matches a folder
 * matches what is inside it, `!` includes again, and the last matching pattern wins.
 */
export function dockerIgnore(path = join(ROOT, '.dockerignore')): (file: string) => boolean {
  const rules = readFileSync(path, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const include = line.startsWith('!');
      const pattern = (include ? line.slice(1) : line).replace(/^\/+|\/+$/g, '');
      const source = pattern
        .split(/(\*\*\/|\*\*|\*|\?)/)
        .map((part) => {
          if (part === '**/') return '(.*/)?';
          if (part === '**') return '.*';
          if (part === '*') return '[^/]*';
          if (part === '?') return '[^/]';
          return part.replace(/[.+^${}()|[\]\\]/g, '\\$&');
        })
        .join('');
      return { include, regex: new RegExp(`^${source}$`) };
    });
  return (file) => {
    const segments = file.split('/');
    const candidates = segments.map((_, i) => segments.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const rule of rules) {
      if (candidates.some((c) => rule.regex.test(c))) excluded = !rule.include;
    }
    return excluded;
  };
}
