/**
 * chainwatch-collector: the command line. Only this file sets exit codes.
 */
import { runFeeds, FEEDS_USAGE } from './cli/feeds.js';
import { runStart, START_USAGE } from './cli/start.js';
import { runToken, runEnrollSecret, runHosts, runIndicators, ADMIN_USAGE } from './cli/admin.js';
import { runBackup, runRestore, runPrune, runDoctor, runSystemdUnit, OPS_USAGE } from './cli/ops.js';
import { runPackage } from './cli/package.js';

const USAGE = `chainwatch-collector — central collector for chainwatch agents

Usage:
${START_USAGE}

${ADMIN_USAGE}
${FEEDS_USAGE}

${OPS_USAGE}

Environment: CHAINWATCH_DB (database file), CHAINWATCH_ENROLL_SECRET, CHAINWATCH_TOKEN,
CHAINWATCH_LOG_LEVEL (pino level, default info).
API: JSON under /api/v1 with Authorization: Bearer <token> (see README).
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'start': return runStart(rest, process.stdout);
    case 'token': return runToken(rest, process.stdout);
    case 'enroll-secret': return runEnrollSecret(rest, process.stdout);
    case 'hosts': return runHosts(rest, process.stdout);
    case 'indicators': return runIndicators(rest, process.stdout);
    case 'feeds': return runFeeds(rest, process.stdout);
    case 'package': return runPackage(rest, process.stdout);
    case 'backup': return runBackup(rest, process.stdout);
    case 'restore': return runRestore(rest, process.stdout);
    case 'prune': return runPrune(rest, process.stdout);
    case 'doctor': return runDoctor(rest, process.stdout);
    case 'systemd-unit': return runSystemdUnit(rest, process.stdout);
    case undefined: case '--help': case '-h': case 'help': process.stdout.write(USAGE); return 0;
    default: process.stderr.write(`chainwatch-collector: unknown command ${JSON.stringify(cmd)} (see --help)\n`); return 2;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: Error & { code?: string }) => {
  process.stderr.write(`chainwatch-collector: ${err.code ?? 'CW_FAILED'}: ${err.message}\n`);
  process.exitCode = err.code === 'CW_CLI_USAGE' ? 2 : 1;
});
