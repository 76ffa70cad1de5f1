/** Reading a process's Prometheus /metrics in tests. */

/** The value of metric `name` on the admin port, summed over all its label sets (0 when absent). */
export async function metricSum(adminPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n'))
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}
