/**
 * How `attache` runs one found command: `--help` prints its usage, flags are parsed (command
 * line, then ATTACHE_* environment, then defaults), and a ConfigError exits 2 with the usage, any
 * other error 1. main.ts runs every command through it; the translate snapshot
 * (translate-snapshot.ts) runs translate through it, so both behave alike.
 */
import { type FlagValue, parseFlags } from '../../shared/runtime/config.ts';
import { ConfigError, errorMessage } from '../../shared/runtime/errors.ts';
import { type CommandSpec, usage } from './commands.ts';

export async function runCommand(
  found: { spec: CommandSpec; rest: string[] },
  run: (flags: Record<string, FlagValue>) => Promise<void>,
): Promise<void> {
  if (found.rest.includes('--help') || found.rest.includes('-h')) {
    process.stdout.write(usage(found.spec));
    process.exit(0);
  }
  try {
    await run(parseFlags(found.spec.flags, found.rest, process.env, found.spec.positionals?.length ?? 0));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`attache ${found.spec.path.join(' ')}: ${err.message}\n\n${usage(found.spec)}`);
      process.exit(2);
    }
    process.stderr.write(`attache ${found.spec.path.join(' ')}: ${errorMessage(err)}\n`);
    process.exit(1);
  }
}
