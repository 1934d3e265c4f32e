// Run by http_reader_test.ts with `--allow-net` only (no file permissions, as in an edge
// function): opens a URL whose server ignores ranges, reads two ranges, prints what it read.
import { openHttpReader } from "../../io/http_reader.ts";

const reader = await openHttpReader(Deno.args[0]!, "the file", { fetch, headers: new Headers() });
const a = await reader!.read(0, 8);
const b = await reader!.read(reader!.size - 4, 4);
reader!.close();
console.log(JSON.stringify({ size: reader!.size, a: [...a], b: [...b] }));
