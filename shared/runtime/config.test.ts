import assert from 'node:assert/strict';
import { test } from 'node:test';
import { envNameOf, type FlagSpecs, POSITIONALS, parseFlags } from './config.ts';
import { ConfigError } from './errors.ts';

const specs: FlagSpecs = {
  port: { type: 'number', default: 8080, description: 'port' },
  name: { type: 'string', required: true, description: 'name' },
  tag: { type: 'string', multiple: true, description: 'tags' },
  verbose: { type: 'boolean', default: true, description: 'verbose' },
};

test('config — command line wins over environment, which wins over defaults', () => {
  const env = { [envNameOf('port')]: '9000', [envNameOf('name')]: 'from-env', [envNameOf('tag')]: 'a, b' };
  assert.deepEqual(parseFlags(specs, ['--name', 'cli'], env), {
    port: 9000,
    name: 'cli',
    tag: ['a', 'b'],
    verbose: true,
  });
  assert.equal(parseFlags(specs, ['--name', 'x', '--port', '1'], env).port, 1);
});

test('config — booleans can be turned off with --no-flag, --flag=false or the environment', () => {
  assert.equal(parseFlags(specs, ['--name', 'x', '--no-verbose'], {}).verbose, false);
  assert.equal(parseFlags(specs, ['--name', 'x', '--verbose=false'], {}).verbose, false);
  assert.equal(parseFlags(specs, ['--name', 'x', '--verbose=true'], {}).verbose, true);
  assert.equal(parseFlags(specs, ['--name', 'x'], { ATTACHE_VERBOSE: 'false' }).verbose, false);
  assert.throws(() => parseFlags(specs, ['--name', 'x', '--verbose=maybe'], {}), ConfigError);
  assert.throws(() => parseFlags(specs, ['--name', 'x', '--verbose', '--no-verbose'], {}), ConfigError);
});

test('config — unknown flags, missing required flags and bad numbers are errors', () => {
  assert.throws(() => parseFlags(specs, ['--name', 'x', '--prot', '1'], {}), ConfigError);
  assert.throws(() => parseFlags(specs, [], {}), /--name is required \(or set ATTACHE_NAME\)/);
  assert.throws(() => parseFlags(specs, ['--name', 'x', '--port', 'eighty'], {}), /--port must be a number/);
});

test('config — arguments besides flags only where a command takes them, and no more than it takes', () => {
  const specs = { json: { type: 'boolean', description: 'j' } } as const;
  assert.throws(() => parseFlags(specs, ['v1'], {}), ConfigError);
  const two = parseFlags(specs, ['v1', '--json', '2026-03-01T14:02:00Z'], {}, 2);
  assert.deepEqual(two[POSITIONALS], ['v1', '2026-03-01T14:02:00Z']);
  assert.equal(two.json, true);
  assert.deepEqual(parseFlags(specs, [], {}, 2)[POSITIONALS], []);
  assert.throws(() => parseFlags(specs, ['1', '2', '3'], {}, 2), /at most 2 arguments/);
});
