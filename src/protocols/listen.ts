// Binds a door's server and answers the port it really got (the configuration may ask for 0).
export interface Listenable {
  listen(port: number, host: string, cb: () => void): unknown;
  once(event: 'error', cb: (err: Error) => void): unknown;
  off(event: 'error', cb: (err: Error) => void): unknown;
  address(): unknown;
}

export async function listenOn(server: Listenable, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as { port?: number } | string | null;
  return typeof addr === 'object' && addr?.port ? addr.port : port;
}
