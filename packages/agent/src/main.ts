/**
 * chainwatch-agent: the command line. Only this file touches process exit codes.
 */
import { createLogger } from './log.js';
import { AgentError } from './errors.js';
import { AGENT_VERSION } from './version.js';
import { runScanCommand, SCAN_USAGE } from './cli/scan.js';
import { runRunCommand, RUN_USAGE } from './cli/run.js';
import { runInstallCommand, runUninstallCommand, runStatusCommand } from './cli/install.js';
import { runVerify } from './cli/verify.js';

const USAGE = `chainwatch-agent ${AGENT_VERSION} — inventory software, files and code signing for chainwatch

Usage:
  chainwatch-agent scan [--root DIR] [--json]          one local inventory pass
  chainwatch-agent run --collector URL --enroll-secret S [--once] [--root DIR] [--state-dir D]
  chainwatch-agent verify FILE... [--json] [--trust FILE]   code-signing verdicts
  chainwatch-agent --version

The agent is read-only: it reads inventory and sends it; nothing the collector sends can make
it run a command or read a path of the collector's choosing.

${SCAN_USAGE}

${RUN_USAGE}
`;

process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  // A closed pipe (`scan --json | head`) is the reader's choice, not a failure.
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const log = createLogger();
  switch (cmd) {
    case 'scan': return runScanCommand(rest, process.stdout, log);
    case 'run': return runRunCommand(rest, process.stdout, log);
    case 'install': return runInstallCommand(rest, process.stdout);
    case 'uninstall': return runUninstallCommand(rest, process.stdout);
    case 'status': return runStatusCommand(rest, process.stdout);
    case 'verify': return runVerify(rest, process.stdout);
    case '--version': case 'version': process.stdout.write(`${AGENT_VERSION}\n`); return 0;
    case undefined: case '--help': case '-h': case 'help': process.stdout.write(USAGE); return 0;
    default: throw new AgentError('CW_AGENT_USAGE', `unknown command ${JSON.stringify(cmd)} (see --help)`);
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: unknown) => {
  const code = err instanceof AgentError ? err.code : 'CW_AGENT_FAILED';
  process.stderr.write(`chainwatch-agent: ${code}: ${(err as Error).message}\n`);
  process.exitCode = err instanceof AgentError && err.code === 'CW_AGENT_USAGE' ? 2 : 1;
});
