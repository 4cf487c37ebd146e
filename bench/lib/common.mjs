// Shared by the bench scripts: run the scan child, run a baseline under getrusage, print the result line.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./scan-child.mjs', import.meta.url));

/** One files-source run in a fresh Node process; returns its figures. */
export function scanChild(cfg, timeoutS = 240) {
  const out = execFileSync(process.execPath, [CHILD, JSON.stringify(cfg)], { encoding: 'utf8', timeout: timeoutS * 1000, maxBuffer: 1e8, stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop());
}

/**
 * Wall time, CPU seconds and peak RSS of a shell pipeline and all its children, measured by
 * python's getrusage(RUSAGE_CHILDREN) (ru_maxrss is the largest single child).
 */
export function measureShell(cmd, timeoutS = 240) {
  const py = `import resource,subprocess,time,json,sys
t=time.monotonic(); subprocess.run(["sh","-c",sys.argv[1]],check=True); w=time.monotonic()-t
r=resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wallS":w,"cpuS":r.ru_utime+r.ru_stime,"peakRssMb":r.ru_maxrss/1024}))`;
  const out = execFileSync('python3', ['-c', py, cmd], { encoding: 'utf8', timeout: timeoutS * 1000, stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop());
}

export const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/** The last stdout line every bench prints: what run.mjs collects. */
export function report(name, metrics, targets, pass, extra = {}) {
  console.log(JSON.stringify({ name, metrics, targets, pass, ...extra }));
}
