/**
 * chainwatch-agent: the command line. Only this file touches process exit codes.
 *
 * Each command's module is imported when that command runs, not before: a scan must not
 * carry the transport (ws, node-forge, the protocol schemas) or the verifier's parsers in
 * its resident memory (osquery's watchdog allows an agent 200 MB; ours aims at half).
 */
import { applyAgentV8Flags } from './gc-tuning.js';
import { createLogger } from './log.js';
import { AgentError } from './errors.js';
import { AGENT_VERSION } from './version.js';

const usage = (scanUsage: string, runUsage: string): string => `chainwatch-agent ${AGENT_VERSION} — inventory software, files and code signing for chainwatch

Usage:
  chainwatch-agent scan [--root DIR] [--json]          one local inventory pass
  chainwatch-agent run --collector URL --enroll-secret S [--once] [--root DIR] [--state-dir D]
  chainwatch-agent verify FILE... [--json] [--trust FILE]   code-signing verdicts
  chainwatch-agent --version

The agent is read-only: it reads inventory and sends it; nothing the collector sends can make
it run a command or read a path of the collector's choosing.

${scanUsage}

${runUsage}
`;

applyAgentV8Flags();

process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  // A closed pipe (`scan --json | head`) is the reader's choice, not a failure.
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const log = createLogger();
  switch (cmd) {
    case 'scan': return (await import('./cli/scan.js')).runScanCommand(rest, process.stdout, log);
    case 'run': return (await import('./cli/run.js')).runRunCommand(rest, process.stdout, log);
    case 'install': return (await import('./cli/install.js')).runInstallCommand(rest, process.stdout);
    case 'uninstall': return (await import('./cli/install.js')).runUninstallCommand(rest, process.stdout);
    case 'status': return (await import('./cli/install.js')).runStatusCommand(rest, process.stdout);
    case 'verify': return (await import('./cli/verify.js')).runVerify(rest, process.stdout);
    case '--version': case 'version': process.stdout.write(`${AGENT_VERSION}\n`); return 0;
    case undefined: case '--help': case '-h': case 'help': {
      const [scan, run] = await Promise.all([import('./cli/scan.js'), import('./cli/run.js')]);
      process.stdout.write(usage(scan.SCAN_USAGE, run.RUN_USAGE));
      return 0;
    }
    default: throw new AgentError('CW_AGENT_USAGE', `unknown command ${JSON.stringify(cmd)} (see --help)`);
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: unknown) => {
  const code = err instanceof AgentError ? err.code : 'CW_AGENT_FAILED';
  process.stderr.write(`chainwatch-agent: ${code}: ${(err as Error).message}\n`);
  process.exitCode = err instanceof AgentError && err.code === 'CW_AGENT_USAGE' ? 2 : 1;
});
