/** Command-line flags of `npm run bench:fleet`. */
import { parseArgs } from 'node:util';
import type { Mode } from './worker-protocol.ts';

export interface CliOptions {
  mode: Mode;
  streams: number;
  json: boolean;
  holdS: number;
  processes: number;
  streamsPerChannel: number;
  connectRatePerS: number;
  services: number;
  routes: number;
  hosts: number;
  vhds: boolean;
  grpcClients: number;
  fanoutUrl?: string;
  fanoutPid?: number;
  storm: boolean;
  timeoutS: number;
  outDir: string;
}

export const USAGE = `Usage: npm run bench:fleet -- --streams N [flags]

Simulates N Envoys on ADS against a fan-out started in its own process (with real nats-server,
redis-server, attache ingest fs and attache compile), drives changes through the YAML directory,
and writes loadtest/results/fleet-<mode>-<N>-<timestamp>.{json,md}.

  --streams N               simulated Envoys (required)
  --mode sotw|delta         ADS variant (default sotw)
  --duration-s S            how long to hold the idle fleet before the changes (default 5)
  --processes P             simulator worker processes (default 1, leaving a core to the fan-out)
  --streams-per-channel K   streams per HTTP/2 connection (default 500)
  --connect-rate R          streams opened per second during the ramp, 0 = all at once (default 2000)
  --services S              services (clusters) in the configuration (default 50)
  --routes R                Mappings (RDS routes) in the configuration (default 400, about 100 KB)
  --hosts H                 Hosts the Mappings are spread over, one virtual host each; the route
                            change rewrites the first Host's routes only (default 1: all of them)
  --vhds                    delta only: the simulated Envoys opt into VHDS (node metadata
                            attache_vhds) and take virtual hosts one by one
  --grpc-clients K          real @grpc/grpc-js-xds clients (SotW) routing RPCs to two echo backends
                            through every phase, 0 = none (default 2; none with --fanout-url)
  --fanout-url HOST:PORT    dial an already running fan-out instead (connect phase only)
  --fanout-pid PID          with --fanout-url: the process whose memory and CPU to read
  --no-storm                skip the reconnect storm
  --timeout-s T             hard limit for the whole run (default 1800)
  --out-dir DIR             where results go (default loadtest/results)
  --json                    print the JSON result instead of the summary
`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseCli(argv: readonly string[]): CliOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      streams: { type: 'string' },
      mode: { type: 'string', default: 'sotw' },
      json: { type: 'boolean', default: false },
      'duration-s': { type: 'string', default: '5' },
      processes: { type: 'string', default: '1' },
      'streams-per-channel': { type: 'string', default: '500' },
      'connect-rate': { type: 'string', default: '2000' },
      services: { type: 'string', default: '50' },
      routes: { type: 'string', default: '400' },
      hosts: { type: 'string', default: '1' },
      vhds: { type: 'boolean', default: false },
      'grpc-clients': { type: 'string', default: '2' },
      'fanout-url': { type: 'string' },
      'fanout-pid': { type: 'string' },
      'no-storm': { type: 'boolean', default: false },
      'timeout-s': { type: 'string', default: '1800' },
      'out-dir': { type: 'string', default: 'loadtest/results' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) throw new UsageError('');
  const mode = values.mode;
  if (mode !== 'sotw' && mode !== 'delta') throw new UsageError(`--mode must be sotw or delta, not ${mode}`);
  if (values.streams === undefined) throw new UsageError('--streams is required');
  if (values.vhds && mode !== 'delta') throw new UsageError('--vhds needs --mode delta (VHDS is delta-only)');
  const int = (name: string, raw: string | undefined, min: number): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min)
      throw new UsageError(`--${name} must be an integer ≥ ${min}, not ${raw}`);
    return n;
  };
  const fanoutPid = values['fanout-pid'];
  return {
    mode,
    streams: int('streams', values.streams, 1),
    json: values.json,
    holdS: int('duration-s', values['duration-s'], 0),
    processes: int('processes', values.processes, 1),
    streamsPerChannel: int('streams-per-channel', values['streams-per-channel'], 1),
    connectRatePerS: int('connect-rate', values['connect-rate'], 0),
    services: int('services', values.services, 1),
    routes: int('routes', values.routes, 1),
    hosts: int('hosts', values.hosts, 1),
    vhds: values.vhds,
    grpcClients: values['fanout-url'] ? 0 : int('grpc-clients', values['grpc-clients'], 0),
    ...(values['fanout-url'] ? { fanoutUrl: values['fanout-url'] } : {}),
    ...(fanoutPid !== undefined ? { fanoutPid: int('fanout-pid', fanoutPid, 1) } : {}),
    storm: !values['no-storm'],
    timeoutS: int('timeout-s', values['timeout-s'], 10),
    outDir: values['out-dir'],
  };
}
