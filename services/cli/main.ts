/**
 * `attache` entry point: finds the subcommand in the command table, parses its flags (command
 * line, then ATTACHE_* environment, then defaults) and runs it.
 */

import { ConfigError } from '../../shared/runtime/errors.ts';
import { findCommand, usage } from './commands.ts';
import { runCommand } from './run-command.ts';

const argv = process.argv.slice(2);
if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
  process.stdout.write(usage());
  process.exit(argv.length === 0 ? 2 : 0);
}
const found = findCommand(argv);
if (!found) {
  process.stderr.write(`attache: unknown command '${argv.join(' ')}'\n\n${usage()}`);
  process.exit(2);
}
await runCommand(found, async (flags) => {
  const name = found.spec.path.join(' ');
  switch (name) {
    case 'dev':
      await (await import('./dev.ts')).runDev(flags);
      break;
    case 'ingest fs':
      await (await import('../ingestor/ingestor-service.ts')).runFsIngestor(flags);
      break;
    case 'ingest kubernetes':
      await (await import('../ingestor/kubernetes/kubernetes-service.ts')).runKubernetesIngestor(flags);
      break;
    case 'compile':
      await (await import('../compiler/compiler-service.ts')).runCompiler(flags);
      break;
    case 'fanout':
      await (await import('../fanout/fanout-service.ts')).runFanout(flags);
      break;
    case 'status':
      process.exitCode = await (await import('../fanout/status-command.ts')).runStatus(flags);
      break;
    case 'translate':
      process.exitCode = await (await import('./translate.ts')).runTranslate(flags);
      break;
    case 'replay':
      process.exitCode = await (await import('./replay.ts')).runReplay(flags);
      break;
    case 'log':
      process.exitCode = await (await import('./debug-commands.ts')).runLog(flags);
      break;
    case 'diff':
      process.exitCode = await (await import('./debug-commands.ts')).runDiff(flags);
      break;
    case 'explain':
      process.exitCode = await (await import('./debug-commands.ts')).runExplain(flags);
      break;
    case 'bisect':
      process.exitCode = await (await import('./debug-commands.ts')).runBisect(flags);
      break;
    case 'plan':
      process.exitCode = await (await import('./debug-commands.ts')).runPlan(flags);
      break;
    default:
      throw new ConfigError(`command '${name}' has no implementation`);
  }
});
