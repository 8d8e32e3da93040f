/**
 * Configuration of Eremetic: built-in defaults < YAML file < environment variables <
 * command-line flags, resolved once at start-up into a frozen, validated {@linkcode Config}.
 *
 * - The file is `--config PATH` (an error if missing), else `$EREMETIC_CONFIG`, else
 *   `./eremetic.yml` if it exists, else `/etc/eremetic/eremetic.yml` if it exists, else none.
 * - Every key has a flag (the key with dashes: `--database-driver kv`, `--port=8080`,
 *   `--checkpoint=false`) and environment variables: `EREMETIC_PORT` wins over the
 *   original's bare `PORT`; keys new in this version only have the prefixed form, and the
 *   bare `USER` is never read.
 * - A bad value, an unknown flag or file key, a YAML syntax error or an unreadable
 *   `credential_file` throws a {@linkcode ConfigError} whose `issues` hold one line each,
 *   like `Invalid config "port" from env PORT: expected an integer 0-65535, got "abc"`.
 *   Secret values (`http_credentials`, `callback_secret`, the credential file) never appear.
 * - Harmless oddities (the `boltdb` alias, ignored messenger keys) come back as `notices`
 *   for the caller to log.
 *
 * ```ts
 * import { ConfigError, loadConfig } from "./mod.ts";
 * try {
 *   const { config, notices } = await loadConfig(["--port", "8081"]);
 *   for (const n of notices) console.warn(n);
 *   console.log(config.port, config.database_driver); // 8081 "kv"
 * } catch (err) {
 *   if (!(err instanceof ConfigError)) throw err;
 *   for (const line of err.issues) console.error(line);
 * }
 * ```
 *
 * Tests resolve from plain objects, without files or a real environment:
 *
 * ```ts
 * import { resolveConfig } from "./mod.ts";
 * const { config } = resolveConfig({ env: { PORT: "9000" }, flags: ["--name", "test"] });
 * ```
 *
 * @module
 */
export {
  type Config,
  CONFIG_KEYS,
  ConfigError,
  type ConfigInput,
  type ConfigKey,
  type ConfigKeySpec,
  configKeySpec,
  configSchema,
  type ConfigValues,
  type Credential,
  DEFAULT_CONFIG,
  ENV_PREFIX,
  isValidRole,
  parseHttpCredentials,
} from "./schema.ts";
export {
  flagIsOn,
  type FlagOccurrence,
  type FlagSpec,
  type FlagSpecs,
  type ParsedFlagArgs,
  parseFlagArgs,
  type ParseFlagArgsOptions,
} from "./flags.ts";
export {
  CONFIG_ENV,
  CONFIG_FLAG,
  type FileLayer,
  parseConfigYaml,
  type ParsedFlags,
  parseFlags,
  type RawValue,
  readEnv,
} from "./sources.ts";
export {
  CONFIG_SEARCH_PATHS,
  type ConfigLayers,
  loadConfig,
  type LoadConfigOptions,
  type LoadedConfig,
  redactConfig,
  resolveConfig,
  type ResolvedConfig,
  type ResolveOptions,
} from "./resolve.ts";
export {
  configTable,
  extractConfigTable,
  flagsHelp,
  normalizeTable,
  replaceConfigTable,
  sampleConfigYaml,
  TABLE_END,
  TABLE_START,
} from "./docs.ts";
