import { execFileSync } from 'node:child_process';

/**
 * The path of a command-line tool the deployment proofs run (kubectl, promtool, amtool,
 * prometheus, nginx...). `.ci/run` installs them; a machine without one fails the suite
 * with a message saying how to install it, never skips it.
 */
export function requireTool(name: string, install: string): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`${name} is not installed: ${install} (.ci/run installs it)`);
  }
}
