/**
 * A static file server for `quant_memory.ts --source url`, in its own process so that serving is
 * not measured: answers `Range: bytes=a-b` with 206 Partial Content, as static file servers and
 * CDNs do. Prints its URL on stdout, serves until killed.
 *
 *   deno run --allow-net --allow-read bench/range_server.ts <folder>
 * @module
 */
const dir = Deno.args[0]!.replace(/\/+$/, "");
Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => {
    console.log(`http://127.0.0.1:${port}`);
  },
}, async (req) => {
  const name = decodeURIComponent(new URL(req.url).pathname).replace(/^\/+/, "");
  if (name.includes("..")) return new Response("no", { status: 400 });
  let file: Deno.FsFile;
  try {
    file = await Deno.open(`${dir}/${name}`, { read: true });
  } catch {
    return new Response("no", { status: 404 });
  }
  const size = (await file.stat()).size;
  const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.get("Range") ?? "");
  if (range === null) {
    return new Response(file.readable, { headers: { "Content-Length": `${size}` } });
  }
  const start = Number(range[1]), end = Math.min(Number(range[2]), size - 1);
  const bytes = new Uint8Array(end - start + 1);
  await file.seek(start, Deno.SeekMode.Start);
  for (let done = 0; done < bytes.length;) done += (await file.read(bytes.subarray(done))) ?? 0;
  file.close();
  return new Response(bytes, {
    status: 206,
    headers: { "Content-Range": `bytes ${start}-${end}/${size}` },
  });
});
