import 'reflect-metadata';

import { formatResult, runPreflight } from './preflight';

/**
 * `npm run preflight`: checks the deployment this environment describes, before traffic.
 * One line per check; exit code 1 when any check failed.
 */
async function main(): Promise<void> {
  const results = await runPreflight();
  for (const result of results) process.stdout.write(`${formatResult(result)}\n`);
  process.exitCode = results.some((r) => r.status === 'fail') ? 1 : 0;
}

main().catch((error: unknown) => {
  process.stderr.write(`Pre-flight crashed: ${error instanceof Error ? error.name : 'error'}\n`);
  process.exitCode = 1;
});
