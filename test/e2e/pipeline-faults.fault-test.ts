/**
 * Every case of the fault suite (pipeline-faults.ts): `npm run test:faults`, not `npm test`
 * (pipeline-faults.test.ts runs the bounded subset there).
 */
import { faultSuite } from './pipeline-faults.ts';

faultSuite('fault suite — kill -9 and SIGSTOP of every tier under flowing changes and RPCs');
