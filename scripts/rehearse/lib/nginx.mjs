// nginx for the rehearsals: docker/nginx/nginx.conf itself, with only what differs outside
// compose replaced (the upstream servers, the listen address, file paths into a work folder),
// so a rehearsal proves the configuration users deploy. A replacement that no longer matches
// throws: the shipped file changed and the rehearsal must follow it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { ROOT, startProcess, waitForStatus } from './processes.mjs';

export function nginxPath() {
  for (const candidate of ['nginx', '/usr/sbin/nginx']) {
    try {
      execFileSync(candidate, ['-v'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw new Error('nginx is not installed: apt-get install nginx-light (.ci/run installs it)');
}

/**
 * Writes `<dir>/nginx.conf`: the shipped file with `upstream` (nginx directives, e.g.
 * `server 127.0.0.1:3001;` lines or an `include`) in place of `server api:3000;`.
 */
export function renderNginxConf({ dir, port, upstream }) {
  let conf = readFileSync(join(ROOT, 'docker', 'nginx', 'nginx.conf'), 'utf8');
  const replace = (pattern, value) => {
    if (!pattern.test(conf)) throw new Error(`docker/nginx/nginx.conf no longer has ${pattern}`);
    conf = conf.replace(pattern, value);
  };
  replace(/^pid \/tmp\/nginx\.pid;$/m, `pid ${dir}/nginx.pid;`);
  replace(/(_temp_path) \/tmp\//g, `$1 ${dir}/`);
  replace(/access_log \/dev\/stdout keel;/, `access_log ${dir}/access.log keel;`);
  replace(/^\s*server api:3000;$/m, upstream);
  replace(/^\s*listen 8080;$/m, `    listen 127.0.0.1:${port};`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  return file;
}

/** nginx in the foreground (its master and workers) on `port`; `reload()` is `nginx -s reload`. */
export async function startNginx({ dir, port, upstream, logDir }) {
  const nginx = nginxPath();
  const conf = renderNginxConf({ dir, port, upstream });
  execFileSync(nginx, ['-t', '-q', '-p', dir, '-c', conf], { stdio: 'pipe' });
  const proc = startProcess('nginx', nginx, ['-p', dir, '-c', conf, '-g', 'daemon off;'], {
    env: process.env,
    logDir,
  });
  await waitForStatus(`http://127.0.0.1:${port}/nginx-health`, 200, 10_000);
  return {
    url: `http://127.0.0.1:${port}`,
    conf,
    reloadArgs: [nginx, '-s', 'reload', '-p', dir, '-c', conf],
    stop: () => proc.stop('SIGQUIT', 20_000),
  };
}
