/**
 * HTTP Basic authentication for frameworks (reference §10): the credential file holds
 * `principal secret`; every request carries `Authorization: Basic base64(principal:secret)`.
 *
 * @module
 */
import { encodeBase64 } from "./calls.ts";

/** A framework's principal and secret. */
export interface Credential {
  principal: string;
  secret: string;
}

/** A credential file cannot be used. Never contains the secret. */
export class CredentialError extends Error {
  override name = "CredentialError";
}

/**
 * Parses a credential file: `principal secret` (whitespace separated, one line, as Mesos'
 * `--credential` files) or JSON `{"principal": "...", "secret": "..."}`.
 */
export function parseCredential(text: string): Credential {
  const trimmed = text.trim();
  let principal: unknown;
  let secret: unknown;
  if (trimmed.startsWith("{")) {
    try {
      ({ principal, secret } = JSON.parse(trimmed));
    } catch {
      throw new CredentialError("Cannot read credential: invalid JSON");
    }
  } else {
    const parts = trimmed.split(/\s+/);
    if (parts.length !== 2) {
      throw new CredentialError(
        `Cannot read credential: expected "principal secret", found ${parts.length} words`,
      );
    }
    [principal, secret] = parts;
  }
  if (typeof principal !== "string" || principal === "") {
    throw new CredentialError("Cannot read credential: principal is missing");
  }
  if (typeof secret !== "string" || secret === "") {
    throw new CredentialError(`Cannot read credential for "${principal}": secret is missing`);
  }
  if (principal.includes(":") || secret.includes(":")) {
    // The master splits the decoded header on ":" into exactly two parts.
    throw new CredentialError(
      `Cannot use credential for "${principal.replaceAll(":", "?")}": ":" can never authenticate`,
    );
  }
  return { principal, secret };
}

/** Options of {@linkcode loadCredential}. */
export interface LoadCredentialOptions {
  readTextFile?: (path: string) => Promise<string>;
}

/** Reads and parses a credential file. */
export async function loadCredential(
  path: string,
  { readTextFile = Deno.readTextFile }: LoadCredentialOptions = {},
): Promise<Credential> {
  let text: string;
  try {
    text = await readTextFile(path);
  } catch (err) {
    throw new CredentialError(`Cannot read credential file "${path}": ${(err as Error).message}`, {
      cause: err,
    });
  }
  return parseCredential(text);
}

const encoder = new TextEncoder();

/** The `Authorization` header value for a credential. */
export function basicAuthorization(credential: Credential): string {
  return `Basic ${encodeBase64(encoder.encode(`${credential.principal}:${credential.secret}`))}`;
}
