/** Whether an address to bind or connect to is reachable only from this host. */

/** True for 127.0.0.0/8, ::1 (also as ::ffff:127.x) and `localhost`. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^::ffff:/, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}
