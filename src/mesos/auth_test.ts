import { assertEquals, assertRejects, assertThrows } from "../testing/asserts.ts";
import { basicAuthorization, CredentialError, loadCredential, parseCredential } from "./auth.ts";

Deno.test("parseCredential() reads 'principal secret' and JSON", () => {
  assertEquals(parseCredential("eremetic s3cret\n"), { principal: "eremetic", secret: "s3cret" });
  assertEquals(parseCredential('{"principal":"p","secret":"s"}'), { principal: "p", secret: "s" });
});

Deno.test("parseCredential() rejects malformed files without showing the secret", () => {
  assertThrows(() => parseCredential("onlyone"), CredentialError, "found 1 words");
  const three = assertThrows(() => parseCredential("p s3cret extra"), CredentialError);
  assertEquals(three.message.includes("s3cret"), false);
  const colon = assertThrows(() => parseCredential("p se:cret"), CredentialError, "can never");
  assertEquals(colon.message.includes("se:cret"), false);
  assertThrows(() => parseCredential('{"principal":"p"}'), CredentialError, "secret is missing");
  assertThrows(() => parseCredential("{oops"), CredentialError, "invalid JSON");
});

Deno.test("loadCredential() reads through the injected reader", async () => {
  const cred = await loadCredential("/x", { readTextFile: () => Promise.resolve("a b") });
  assertEquals(cred, { principal: "a", secret: "b" });
  await assertRejects(
    () => loadCredential("/missing", { readTextFile: () => Promise.reject(new Error("nope")) }),
    CredentialError,
    'Cannot read credential file "/missing": nope',
  );
});

Deno.test("basicAuthorization() encodes principal:secret as UTF-8 base64", () => {
  assertEquals(basicAuthorization({ principal: "p", secret: "s" }), "Basic cDpz");
  assertEquals(basicAuthorization({ principal: "é", secret: "✓" }), "Basic w6k64pyT");
});
