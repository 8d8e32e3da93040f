/**
 * Validation of role names and ids as the Mesos master checks them.
 *
 * @module
 */

/** Why a role name is invalid (Mesos `roles::validate`), or null. */
export function validateRole(role: string): string | null {
  if (role === "*") return null;
  if (role === "") return "Role name cannot be empty";
  if (role.startsWith("/") || role.endsWith("/") || role.includes("//")) {
    return `Role '${role}' cannot start or end with '/' or contain '//'`;
  }
  for (const c of role.split("/")) {
    if (c === "." || c === ".." || c === "*") return `Role '${role}' cannot contain '${c}'`;
    if (c.startsWith("-")) return `Role '${role}' cannot start with '-'`;
    // deno-lint-ignore no-control-regex
    if (/[\s\b\x00-\x1f\x7f]/.test(c)) return `Role '${role}' cannot contain whitespace`;
  }
  return null;
}

/** Why a framework id is invalid (Mesos `common::validation::validateID`), or null. */
export function validateId(id: string): string | null {
  if (id === "") return "ID must not be empty";
  if (id.length > 255) return "ID must not be longer than 255";
  if (id === "." || id === "..") return `'${id}' is disallowed`;
  // deno-lint-ignore no-control-regex
  if (/[\/\\\x00-\x1f\x7f]/.test(id)) return `'${id}' contains invalid characters`;
  return null;
}
