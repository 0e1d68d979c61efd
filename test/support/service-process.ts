import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { freePort } from '@keel/core/testing';

const ROOT = join(__dirname, '..', '..');
export const MAIN = join(ROOT, 'dist', 'src', 'main.js');

/**
 * The Node flags `npm start` gives the service (package.json's start script,
 * `exec node [flags] dist/src/main.js`), so a test of the built service runs it as shipped.
 */
export const START_FLAGS: readonly string[] = (() => {
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: { start: string };
  };
  const match = /^exec node((?: --[\w-]+(?:=\S+)?)*) dist\/src\/main\.js$/.exec(scripts.start);
  if (!match) throw new Error(`unexpected start script in package.json: ${scripts.start}`);
  return match[1].split(' ').filter(Boolean);
})();

export { freePort };

export interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * A built Keel process (`npm test` builds first), with only the variables a test gives it;
 * MAIN starts with START_FLAGS.
 */
export function spawnNode(
  script: string,
  env: Record<string, string>,
  cwd?: string,
): { child: ChildProcess; exited: Promise<Exited> } {
  if (!existsSync(script)) throw new Error(`${script} is missing: run npm run build first`);
  const started = Date.now();
  const child = spawn(process.execPath, script === MAIN ? [...START_FLAGS, script] : [script], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<Exited>((resolve) =>
    child.on('exit', (code, signal) =>
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started }),
    ),
  );
  return { child, exited };
}

/** Polls `url` until it answers `status`, or fails after `timeoutMs`. */
export async function waitForStatus(
  url: string,
  status: number,
  timeoutMs: number,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.status === status) return Date.now() - started;
    } catch {
      // not listening yet
    }
    if (Date.now() - started > timeoutMs)
      throw new Error(`${url} did not answer ${status} in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
