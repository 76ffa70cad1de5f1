/**
 * NATS decentralized authentication (operator JWT mode) for tests, without `nsc`: an operator, a
 * system account, one account with JetStream, and `.creds` files for its users, signed with the
 * NKeys of `@nats-io/nkeys` (re-exported by the NATS client). A JWT here is the NATS v2 form:
 * header `{"typ":"JWT","alg":"ed25519-nkey"}`, claims with `iss` (the signer's public key), `sub`,
 * `iat`, `jti` and a `nats` object whose `type` says what is issued; the signature is Ed25519 over
 * `header.payload` by the issuer. nats-server checks the chain operator → account → user.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { nkeys } from '@nats-io/transport-node';

type KeyPair = ReturnType<typeof nkeys.createUser>;

const b64url = (b: Uint8Array | string) => Buffer.from(b).toString('base64url');

function signJwt(claims: Record<string, unknown>, signer: KeyPair): string {
  const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }));
  const body: Record<string, unknown> = {
    ...claims,
    iat: Math.floor(Date.now() / 1000),
    iss: signer.getPublicKey(),
  };
  body.jti = createHash('sha256').update(JSON.stringify(body)).digest('base64url');
  const payload = b64url(JSON.stringify(body));
  return `${header}.${payload}.${b64url(signer.sign(new TextEncoder().encode(`${header}.${payload}`)))}`;
}

const UNLIMITED = {
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  wildcards: true,
  conn: -1,
  leaf: -1,
};

function accountJwt(name: string, account: KeyPair, operator: KeyPair, jetstream: boolean): string {
  const limits = jetstream
    ? { ...UNLIMITED, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 }
    : UNLIMITED;
  return signJwt(
    { name, sub: account.getPublicKey(), nats: { limits, type: 'account', version: 2 } },
    operator,
  );
}

export interface NatsOperator {
  /** nats-server configuration file trusting the operator (memory resolver, accounts preloaded). */
  readonly configFile: string;
  /** Writes a `.creds` file for a new user of the JetStream account; returns its path. */
  userCreds(name: string): string;
  /** A `.creds` file for a user of an account the server does not know (must be refused). */
  foreignCreds(name: string): string;
}

export function natsOperator(dir: string): NatsOperator {
  const operator = nkeys.createOperator();
  const system = nkeys.createAccount();
  const account = nkeys.createAccount();
  const operatorJwt = signJwt(
    { name: 'attache-test', sub: operator.getPublicKey(), nats: { type: 'operator', version: 2 } },
    operator,
  );
  const configFile = path.join(dir, 'operator.conf');
  fs.writeFileSync(
    configFile,
    [
      `operator: ${operatorJwt}`,
      `system_account: ${system.getPublicKey()}`,
      'resolver: MEMORY',
      'resolver_preload: {',
      `  ${system.getPublicKey()}: ${accountJwt('SYS', system, operator, false)}`,
      `  ${account.getPublicKey()}: ${accountJwt('attache', account, operator, true)}`,
      '}',
      '',
    ].join('\n'),
  );
  const creds = (name: string, issuer: KeyPair) => {
    const user = nkeys.createUser();
    const jwt = signJwt(
      {
        name,
        sub: user.getPublicKey(),
        nats: { pub: {}, sub: {}, subs: -1, data: -1, payload: -1, type: 'user', version: 2 },
      },
      issuer,
    );
    const seed = new TextDecoder().decode(user.getSeed());
    const file = path.join(dir, `${name}.creds`);
    fs.writeFileSync(
      file,
      `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n` +
        `-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`,
      { mode: 0o600 },
    );
    return file;
  };
  return {
    configFile,
    userCreds: (name) => creds(name, account),
    foreignCreds: (name) => creds(name, nkeys.createAccount()),
  };
}
