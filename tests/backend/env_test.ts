import { equal, throws } from "node:assert/strict";
import { envFlag, envFlagOrValue, parseFlagWord, readEnv } from "../../backend/env.ts";

const NAME = "DPR_TEST_ENV_FLAG";

function withEnv(value: string | undefined, fn: () => void): void {
  if (value === undefined) Deno.env.delete(NAME);
  else Deno.env.set(NAME, value);
  try {
    fn();
  } finally {
    Deno.env.delete(NAME);
  }
}

Deno.test("flag words: 1/0, true/false, on/off, yes/no in any case, spaces around ignored", () => {
  for (const word of ["1", "true", "on", "yes", "TRUE", " On ", "Yes"]) {
    equal(parseFlagWord(word), true);
  }
  for (const word of ["0", "false", "off", "no", "FALSE", " Off", "NO"]) {
    equal(parseFlagWord(word), false);
  }
  for (const word of ["", "2", "y", "enable", "/usr/lib/x.so"]) {
    equal(parseFlagWord(word), undefined);
  }
});

Deno.test("envFlag: the fallback when unset or empty, the word's value, else an error naming both", () => {
  withEnv(undefined, () => {
    equal(readEnv(NAME), undefined);
    equal(envFlag(NAME, true), true);
    equal(envFlag(NAME, false), false);
  });
  withEnv("", () => equal(envFlag(NAME, true), true));
  withEnv("no", () => equal(envFlag(NAME, true), false));
  withEnv("ON", () => equal(envFlag(NAME, false), true));
  withEnv("maybe", () => {
    throws(() => envFlag(NAME, true), {
      name: "RangeError",
      message: `${NAME} must be one of 1/0, true/false, on/off, yes/no: received "maybe"`,
    });
  });
});

Deno.test("envFlagOrValue: a flag word, or the value itself (a path)", () => {
  withEnv(undefined, () => equal(envFlagOrValue(NAME), undefined));
  withEnv("off", () => equal(envFlagOrValue(NAME), false));
  withEnv("yes", () => equal(envFlagOrValue(NAME), true));
  withEnv(" /opt/lib/libdnnl.so.2 ", () => equal(envFlagOrValue(NAME), "/opt/lib/libdnnl.so.2"));
});
