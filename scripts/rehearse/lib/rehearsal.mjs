// The frame of a rehearsal script: its work folder, one timed line per step, cleanups run in
// reverse order, and the `REHEARSAL_RESULT {json}` line and exit code at the end.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startLoad, verifyRuns } from './load.mjs';
import { prepareTenant } from './stack.mjs';

export function createRehearsal(name) {
  const dir = mkdtempSync(join(tmpdir(), `keel-${name}-`));
  const logDir = join(dir, 'logs');
  mkdirSync(logDir);
  const started = Date.now();
  const say = (line) =>
    console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);
  const cleanups = [];
  say(`work folder ${dir}`);
  return {
    dir,
    logDir,
    say,
    /** Runs `fn` after everything started later has been cleaned up. */
    onCleanup: (fn) => cleanups.push(fn),
    /** Makes a tenant member with an agent and starts `rate` requests a second as them. */
    async startLoad(baseUrl, rate) {
      const tenant = await prepareTenant(baseUrl);
      const load = startLoad({ baseUrl, headers: tenant.headers, agentId: tenant.agentId, rate });
      say(
        `load: ${rate} requests/s through nginx (35% agent lists, 15% run reads, 30% chat completions, 20% run creation)`,
      );
      return { tenant, load };
    },
    /**
     * Stops the load, says its counts, and follows every run it created to its end.
     * Returns `{ load, runs }`.
     */
    async stopLoad(load, { baseUrl, headers }) {
      const stats = await load.stop();
      say(
        `load stopped: ${stats.sent} requests in ${(stats.durationMs / 1000).toFixed(1)} s (${stats.ratePerSec}/s), ${stats.ok} ok, ${stats.failed} failed, ${stats.retried} retried on a closed keep-alive connection`,
      );
      for (const [op, s] of Object.entries(stats.byOperation))
        say(`  ${op}: ${s.sent} sent, ${s.failed} failed, ${s.retried} retried`);
      for (const failure of stats.failures.slice(0, 10))
        say(`  failure: ${JSON.stringify(failure)}`);
      const runs = await verifyRuns({ baseUrl, headers, runIds: load.runIds, timeoutMs: 120_000 });
      say(`runs: ${runs.created} created, ${JSON.stringify(runs.byStatus)}, ${runs.lost} lost`);
      return { load: stats, runs };
    },
    /** Cleans up, prints the result line, sets the exit code. */
    async finish(result, ok, error) {
      if (error) {
        result.error = String(error?.stack ?? error);
        say(`error: ${result.error}`);
      }
      for (const cleanup of cleanups.reverse()) {
        try {
          await cleanup();
        } catch (cleanupError) {
          say(`cleanup: ${cleanupError}`);
        }
      }
      result.ok = ok;
      result.elapsed_ms = Date.now() - started;
      if (process.env.REHEARSAL_KEEP === '1' || !ok) say(`logs kept in ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
      say(ok ? `${name}: every promise held` : `${name}: FAILED`);
      console.log(`REHEARSAL_RESULT ${JSON.stringify(result)}`);
      process.exitCode = ok ? 0 : 1;
    },
  };
}
