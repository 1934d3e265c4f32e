// Child process for register_test.ts: registers the blas backend under the permissions and
// environment the test chose, and exits 3 with the error's text on stderr when that fails.
import { registerBlasBackend } from "../../../backend/blas/register.ts";

try {
  await registerBlasBackend();
  console.log("registered");
} catch (err) {
  console.error(String(err));
  Deno.exit(3);
}
