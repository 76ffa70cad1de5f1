/**
 * Throwaway PKI for TLS tests, generated with the `openssl` binary into a temp directory: one CA,
 * a server certificate for 127.0.0.1/localhost, and client certificates with the given subject
 * CN and optional URI SAN (e.g. `spiffe://test.local/group/blue`).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Pem {
  cert: Buffer;
  key: Buffer;
}

export class TestPki {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-pki-'));
  readonly ca: Pem;

  constructor() {
    this.ca = this.issue('ca', '/CN=attache-test-ca', { ca: true });
  }

  server(): Pem {
    return this.issue('server', '/CN=localhost', { san: 'IP:127.0.0.1,DNS:localhost' });
  }

  client(name: string, cn: string, uri?: string): Pem {
    return this.issue(name, `/CN=${cn}`, uri ? { san: `URI:${uri}` } : {});
  }

  dispose(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private issue(name: string, subject: string, o: { ca?: boolean; san?: string }): Pem {
    const key = path.join(this.dir, `${name}.key`);
    const cert = path.join(this.dir, `${name}.crt`);
    const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
    run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    if (o.ca) {
      run(['req', '-x509', '-new', '-key', key, '-subj', subject, '-days', '1', '-out', cert]);
    } else {
      const csr = path.join(this.dir, `${name}.csr`);
      const ext = path.join(this.dir, `${name}.ext`);
      fs.writeFileSync(ext, o.san ? `subjectAltName=${o.san}\n` : 'basicConstraints=CA:FALSE\n');
      run(['req', '-new', '-key', key, '-subj', subject, '-out', csr]);
      run([
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        path.join(this.dir, 'ca.crt'),
        '-CAkey',
        path.join(this.dir, 'ca.key'),
        '-CAcreateserial',
        '-days',
        '1',
        '-extfile',
        ext,
        '-out',
        cert,
      ]);
    }
    return { cert: fs.readFileSync(cert), key: fs.readFileSync(key) };
  }
}
