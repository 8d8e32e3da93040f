import { assert, assertEquals, assertMatch, assertThrows } from "../testing/asserts.ts";
import {
  CONFIG_KEYS,
  ConfigError,
  type ConfigLayers,
  DEFAULT_CONFIG,
  loadConfig,
  redactConfig,
  resolveConfig,
  type ResolveOptions,
} from "./mod.ts";

const noFiles: ResolveOptions = {
  readTextFileSync: (path) => {
    throw Object.assign(new Error(`No such file: ${path}`), { name: "NotFound" });
  },
};

function resolve(layers: ConfigLayers, options: ResolveOptions = noFiles) {
  return resolveConfig(layers, options);
}

/** The issues of the ConfigError thrown by resolving `layers`. */
function issuesOf(layers: ConfigLayers, options: ResolveOptions = noFiles): string[] {
  const err = assertThrows(() => resolveConfig(layers, options), ConfigError) as ConfigError;
  return err.issues;
}

function file(values: Record<string, unknown>, path = "./eremetic.yml") {
  return { path, values };
}

Deno.test("resolveConfig() with no layers returns the documented defaults", () => {
  const { config, notices } = resolve({});
  assertEquals(notices, []);
  assertEquals({ ...config }, { ...DEFAULT_CONFIG });
  assertEquals(config.address, "0.0.0.0");
  assertEquals(config.port, 8080);
  assertEquals(config.database_driver, "kv");
  assertEquals(config.database, "db/eremetic.kv");
  assertEquals(config.loglevel, "info");
  assertEquals(config.logformat, "text");
  assertEquals(config.name, "Eremetic");
  assertEquals(config.user, "root");
  assertEquals(config.checkpoint, true);
  assertEquals(config.failover_timeout, 2592000);
  assertEquals(config.framework_id, "");
  assertEquals(config.master, "");
  assertEquals(config.queue_size, 0);
  assertEquals(config.role, "*");
  assertEquals(config.refuse_seconds, 5);
  assertEquals(config.reconcile_interval_seconds, 600);
  assertEquals(config.retention_seconds, 0);
  assertEquals(config.gpu_resources, false);
  assertEquals(config.credential, undefined);
  assert(Object.isFrozen(config));
  assertEquals(Object.keys(config), CONFIG_KEYS.map((s) => s.key));
});

Deno.test("resolveConfig() applies defaults < file < env < flags", async (t) => {
  const layers: ConfigLayers = {
    defaults: { port: 1001, name: "from-defaults", database: "a.kv", master: "m0:5050" },
    file: file({ port: 1002, name: "from-file", database: "b.kv" }),
    env: { PORT: "1003", NAME: "from-env" },
    flags: ["--port", "1004"],
  };
  await t.step("each key takes the highest layer that sets it", () => {
    const { config } = resolve(layers);
    assertEquals(config.port, 1004);
    assertEquals(config.name, "from-env");
    assertEquals(config.database, "b.kv");
    assertEquals(config.master, "m0:5050");
  });
  await t.step("dropping a layer uncovers the one below", () => {
    assertEquals(resolve({ ...layers, flags: [] }).config.port, 1003);
    assertEquals(resolve({ ...layers, flags: [], env: {} }).config.port, 1002);
    assertEquals(resolve({ defaults: layers.defaults }).config.port, 1001);
  });
  await t.step("an invalid value names the layer it came from", () => {
    const base: ConfigLayers = { defaults: { port: -1 } };
    assertEquals(issuesOf(base), [
      'Invalid config "port" from default: expected an integer 0-65535, got -1',
    ]);
    assertEquals(issuesOf({ ...base, file: file({ port: "x" }) }), [
      'Invalid config "port" from file ./eremetic.yml: expected an integer 0-65535, got "x"',
    ]);
    assertEquals(issuesOf({ ...base, env: { PORT: "abc" } }), [
      'Invalid config "port" from env PORT: expected an integer 0-65535, got "abc"',
    ]);
    assertEquals(issuesOf({ ...base, flags: ["--port=70000"] }), [
      'Invalid config "port" from flag --port: expected an integer 0-65535, got "70000"',
    ]);
  });
  await t.step("a valid higher layer hides an invalid lower one", () => {
    assertEquals(resolve({ file: file({ port: "x" }), env: { PORT: "9" } }).config.port, 9);
  });
  await t.step("file errors name the line when known", () => {
    const issues = issuesOf({
      file: { path: "/etc/eremetic/eremetic.yml", values: { port: "x" }, lines: { port: 7 } },
    });
    assertEquals(issues, [
      'Invalid config "port" from file /etc/eremetic/eremetic.yml:7: expected an integer ' +
      '0-65535, got "x"',
    ]);
  });
});

Deno.test("resolveConfig() reads EREMETIC_ variables over the bare ones", async (t) => {
  await t.step("EREMETIC_PORT beats PORT", () => {
    const { config } = resolve({ env: { PORT: "1", EREMETIC_PORT: "2" } });
    assertEquals(config.port, 2);
  });
  await t.step("the winning variable is named in errors", () => {
    assertEquals(issuesOf({ env: { PORT: "1", EREMETIC_PORT: "two" } }), [
      'Invalid config "port" from env EREMETIC_PORT: expected an integer 0-65535, got "two"',
    ]);
  });
  await t.step("every original key has both names", () => {
    const bare = [
      "ADDRESS",
      "PORT",
      "MASTER",
      "DATABASE_DRIVER",
      "DATABASE",
      "HTTP_CREDENTIALS",
      "URL_PREFIX",
      "QUEUE_SIZE",
      "LOGLEVEL",
      "LOGFORMAT",
      "NAME",
      "CHECKPOINT",
      "FAILOVER_TIMEOUT",
      "FRAMEWORK_ID",
      "CREDENTIAL_FILE",
      "MESSENGER_ADDRESS",
      "MESSENGER_PORT",
    ];
    for (const name of bare) {
      const spec = CONFIG_KEYS.find((s) => s.key === name.toLowerCase())!;
      assertEquals(spec.env, [`EREMETIC_${name}`, name]);
    }
  });
  await t.step("new keys have only the prefixed name", () => {
    const { config } = resolve({
      env: { ROLE: "ignored", HOSTNAME: "container-id", EREMETIC_ROLE: "batch" },
    });
    assertEquals(config.role, "batch");
    assertEquals(config.hostname, "");
  });
  await t.step("each original key is read from its bare variable", () => {
    const { config } = resolve({
      env: {
        ADDRESS: "127.0.0.1",
        PORT: "8000",
        MASTER: "zk://zk1:2181,zk2:2181/mesos",
        DATABASE_DRIVER: "zk",
        DATABASE: "zk://zk1:2181/eremetic",
        HTTP_CREDENTIALS: "admin:pa:ss",
        URL_PREFIX: "/service/eremetic",
        QUEUE_SIZE: "100",
        LOGLEVEL: "debug",
        LOGFORMAT: "json",
        NAME: "E2",
        CHECKPOINT: "false",
        FAILOVER_TIMEOUT: "60",
        FRAMEWORK_ID: "fw-1",
        MESSENGER_ADDRESS: "10.0.0.1",
        MESSENGER_PORT: "5051",
      },
    });
    assertEquals(config.address, "127.0.0.1");
    assertEquals(config.port, 8000);
    assertEquals(config.master, "zk://zk1:2181,zk2:2181/mesos");
    assertEquals(config.database_driver, "zk");
    assertEquals(config.database, "zk://zk1:2181/eremetic");
    assertEquals(config.http_credentials, "admin:pa:ss");
    assertEquals(config.url_prefix, "/service/eremetic");
    assertEquals(config.queue_size, 100);
    assertEquals(config.loglevel, "debug");
    assertEquals(config.logformat, "json");
    assertEquals(config.name, "E2");
    assertEquals(config.checkpoint, false);
    assertEquals(config.failover_timeout, 60);
    assertEquals(config.framework_id, "fw-1");
    assertEquals(config.messenger_address, "10.0.0.1");
    assertEquals(config.messenger_port, 5051);
  });
  await t.step("an empty variable counts: MASTER= clears the file's master", () => {
    const { config } = resolve({ file: file({ master: "m:5050" }), env: { MASTER: "" } });
    assertEquals(config.master, "");
  });
});

Deno.test("resolveConfig() ignores the shell's USER", () => {
  assertEquals(resolve({ env: { USER: "alice" } }).config.user, "root");
  assertEquals(resolve({ env: { USER: "alice", EREMETIC_USER: "mesos" } }).config.user, "mesos");
  assertEquals(
    resolve({ file: file({ user: "nobody" }), env: { USER: "x" } }).config.user,
    "nobody",
  );
});

Deno.test("resolveConfig() ignores a Kubernetes service link in EREMETIC_PORT", () => {
  const { config, notices } = resolve({
    env: { EREMETIC_PORT: "tcp://10.0.0.11:8080", PORT: "9000" },
  });
  assertEquals(config.port, 9000);
  assertEquals(notices.length, 1);
  assertMatch(notices[0], /^Ignoring EREMETIC_PORT="tcp:\/\/10\.0\.0\.11:8080": .*Kubernetes/);
});

Deno.test("resolveConfig() accepts boltdb as an alias of kv with one notice", () => {
  const { config, notices } = resolve({ env: { DATABASE_DRIVER: "boltdb" } });
  assertEquals(config.database_driver, "kv");
  assertEquals(notices, [
    'database_driver "boltdb" (from env DATABASE_DRIVER) is an alias of "kv": tasks are ' +
    'stored in Deno KV at "db/eremetic.kv"; BoltDB files are not read',
  ]);
  assertEquals(
    resolve({ flags: ["--database-driver", "memory"] }).config.database_driver,
    "memory",
  );
});

Deno.test("resolveConfig() checks database against database_driver", async (t) => {
  await t.step("zk needs a zk:// URL", () => {
    assertEquals(issuesOf({ env: { DATABASE_DRIVER: "zk" } }), [
      'Invalid config "database" from default: with database_driver "zk" expected a ' +
      'zk://host:port[,host:port]/path URL, got "db/eremetic.kv"',
    ]);
    for (const bad of ["zk://h:2181", "zk://h/path", "zk://h:2181/", "http://h:2181/p"]) {
      const issues = issuesOf({ flags: ["--database-driver=zk", `--database=${bad}`] });
      assertEquals(issues.length, 1, bad);
      assertMatch(issues[0], /^Invalid config "database" from flag --database: /);
    }
    for (const good of ["zk://h:2181/e", "zk://a:1,b:2,c:3/x/y", "zk://u:p@h:1/e"]) {
      assertEquals(
        resolve({ flags: ["--database-driver=zk", `--database=${good}`] }).config
          .database,
        good,
      );
    }
  });
  await t.step("kv refuses a ZooKeeper URL (the driver was forgotten)", () => {
    const issues = issuesOf({ env: { DATABASE: "zk://u:secret@h:2181/e" } });
    assertEquals(issues.length, 1);
    assertMatch(
      issues[0],
      /^Invalid config "database" from env DATABASE: .*set database_driver to "zk"/,
    );
    assert(!issues[0].includes("secret"));
  });
  await t.step("kv accepts paths, :memory: and URLs", () => {
    for (const db of ["/var/lib/e.kv", ":memory:", "https://api.deno.com/databases/x/connect"]) {
      assertEquals(resolve({ env: { DATABASE: db } }).config.database, db);
    }
  });
});

Deno.test("resolveConfig() parses flags", async (t) => {
  await t.step("--key value and --key=value", () => {
    const { config } = resolve({
      flags: ["--port", "8081", "--database-driver=memory", "--url-prefix", "/e", "--name=a=b"],
    });
    assertEquals(config.port, 8081);
    assertEquals(config.database_driver, "memory");
    assertEquals(config.url_prefix, "/e");
    assertEquals(config.name, "a=b");
  });
  await t.step("booleans", () => {
    const on = { file: file({ checkpoint: false, gpu_resources: false }) };
    assertEquals(resolve({ ...on, flags: ["--checkpoint"] }).config.checkpoint, true);
    assertEquals(resolve({ flags: ["--checkpoint=false"] }).config.checkpoint, false);
    assertEquals(resolve({ flags: ["--checkpoint", "false"] }).config.checkpoint, false);
    assertEquals(resolve({ flags: ["--checkpoint", "--port", "1"] }).config.checkpoint, true);
    assertEquals(resolve({ ...on, flags: ["--gpu-resources"] }).config.gpu_resources, true);
    assertEquals(issuesOf({ flags: ["--checkpoint=maybe"] }), [
      'Invalid config "checkpoint" from flag --checkpoint: expected true or false, got "maybe"',
    ]);
  });
  await t.step("the last occurrence wins", () => {
    assertEquals(resolve({ flags: ["--port=1", "--port=2"] }).config.port, 2);
  });
  await t.step("--config is accepted and left to loadConfig()", () => {
    assertEquals(resolve({ flags: ["--config", "x.yml", "--port=3"] }).config.port, 3);
  });
  await t.step("an unknown flag is an error naming it", () => {
    assertEquals(issuesOf({ flags: ["--prot", "8080"] }), [
      'Unknown flag "--prot" (did you mean "--port"?)',
    ]);
    assertEquals(issuesOf({ flags: ["--database_driver=kv"] }), [
      'Unknown flag "--database_driver" (did you mean "--database-driver"?)',
    ]);
    assertEquals(issuesOf({ flags: ["--frobnicate"] }), ['Unknown flag "--frobnicate"']);
    assertEquals(issuesOf({ flags: ["-port", "1"] }), [
      'Unknown flag "-port" (did you mean "--port"?)',
    ]);
  });
  await t.step("a missing value and a stray argument are errors", () => {
    assertEquals(issuesOf({ flags: ["--port"] }), [
      "Flag --port needs a value, e.g. --port 8080",
    ]);
    assertEquals(issuesOf({ flags: ["--master", "--port", "1"] }), [
      "Flag --master needs a value, e.g. --master VALUE",
    ]);
    assertEquals(issuesOf({ flags: ["serve"] }), [
      'Unexpected argument "serve": only flags like --port 8080 are accepted',
    ]);
  });
});

Deno.test("resolveConfig() coerces and normalizes values", () => {
  const { config } = resolve({
    file: file({
      framework_id: 1234,
      name: 42,
      loglevel: "WARNING",
      logformat: "JSON",
      url_prefix: "/service/eremetic/",
      checkpoint: "no",
      gpu_resources: 1,
      failover_timeout: "0.5",
      refuse_seconds: 1.5,
      master: "http://leader.mesos:5050",
    }),
    env: { EREMETIC_GPU_RESOURCES: "TRUE" },
  });
  assertEquals(config.framework_id, "1234");
  assertEquals(config.name, "42");
  assertEquals(config.loglevel, "warn");
  assertEquals(config.logformat, "json");
  assertEquals(config.url_prefix, "/service/eremetic");
  assertEquals(config.checkpoint, false);
  assertEquals(config.gpu_resources, true);
  assertEquals(config.failover_timeout, 0.5);
  assertEquals(config.refuse_seconds, 1.5);
  assertEquals(config.master, "http://leader.mesos:5050");
  for (const level of ["trace", "debug", "fatal", "panic", "Error"]) {
    resolve({ env: { LOGLEVEL: level } });
  }
});

Deno.test("resolveConfig() accepts every documented master form", () => {
  for (
    const master of [
      "",
      "127.0.0.1:5050",
      "m1:5050,m2:5050",
      "[::1]:5050",
      "http://m1:5050",
      "https://mesos.example.com/master",
      "zk://zk1:2181,zk2:2181/mesos",
      "zk://user:pw@zk1:2181/mesos",
    ]
  ) {
    assertEquals(resolve({ env: { MASTER: master } }).config.master, master);
  }
});

/** One invalid value per key: the layer that sets it and the source named in the message. */
const INVALID: [key: string, layers: ConfigLayers, source: string][] = [
  ["address", { env: { ADDRESS: "a b" } }, "env ADDRESS"],
  ["port", { env: { PORT: "abc" } }, "env PORT"],
  ["port", { file: file({ port: 65536 }) }, "file ./eremetic.yml"],
  ["port", { flags: ["--port=1.5"] }, "flag --port"],
  ["url_prefix", { env: { URL_PREFIX: "service" } }, "env URL_PREFIX"],
  ["tls_cert", { file: file({ tls_cert: ["a"] }) }, "file ./eremetic.yml"],
  ["loglevel", { env: { LOGLEVEL: "verbose" } }, "env LOGLEVEL"],
  ["logformat", { flags: ["--logformat", "xml"] }, "flag --logformat"],
  ["database_driver", { env: { DATABASE_DRIVER: "postgres" } }, "env DATABASE_DRIVER"],
  ["database", { file: file({ database: "" }) }, "file ./eremetic.yml"],
  ["queue_size", { env: { EREMETIC_QUEUE_SIZE: "-1" } }, "env EREMETIC_QUEUE_SIZE"],
  ["retention_seconds", { flags: ["--retention-seconds=1d"] }, "flag --retention-seconds"],
  [
    "zk_session_timeout_seconds",
    { flags: ["--zk-session-timeout-seconds=0"] },
    "flag --zk-session-timeout-seconds",
  ],
  ["master", { env: { MASTER: "leader.mesos" } }, "env MASTER"],
  ["master", { env: { MASTER: "zk://zk1:2181" } }, "env MASTER"],
  ["name", { file: file({ name: "  " }) }, "file ./eremetic.yml"],
  ["user", { env: { EREMETIC_USER: "" } }, "env EREMETIC_USER"],
  ["role", { flags: ["--role", "a b"] }, "flag --role"],
  ["role", { flags: ["--role", ".."] }, "flag --role"],
  ["role", { flags: ["--role", "-x"] }, "flag --role"],
  ["role", { flags: ["--role", "a//b"] }, "flag --role"],
  ["hostname", { env: { EREMETIC_HOSTNAME: "a b" } }, "env EREMETIC_HOSTNAME"],
  ["webui_url", { env: { EREMETIC_WEBUI_URL: "ftp://x" } }, "env EREMETIC_WEBUI_URL"],
  ["checkpoint", { env: { CHECKPOINT: "maybe" } }, "env CHECKPOINT"],
  ["checkpoint", { env: { CHECKPOINT: "" } }, "env CHECKPOINT"],
  ["failover_timeout", { env: { FAILOVER_TIMEOUT: "-5" } }, "env FAILOVER_TIMEOUT"],
  ["framework_id", { env: { FRAMEWORK_ID: "a b" } }, "env FRAMEWORK_ID"],
  ["credential_file", { file: file({ credential_file: { a: 1 } }) }, "file ./eremetic.yml"],
  ["gpu_resources", { file: file({ gpu_resources: "si" }) }, "file ./eremetic.yml"],
  ["refuse_seconds", { flags: ["--refuse-seconds", "soon"] }, "flag --refuse-seconds"],
  [
    "reconcile_interval_seconds",
    { env: { EREMETIC_RECONCILE_INTERVAL_SECONDS: "NaN" } },
    "env EREMETIC_RECONCILE_INTERVAL_SECONDS",
  ],
  ["messenger_address", { file: file({ messenger_address: true }) }, "file ./eremetic.yml"],
  ["messenger_port", { env: { MESSENGER_PORT: "99999" } }, "env MESSENGER_PORT"],
  ["http_credentials", { env: { HTTP_CREDENTIALS: "nocolon" } }, "env HTTP_CREDENTIALS"],
  [
    "body_timeout_seconds",
    { flags: ["--body-timeout-seconds", "-1"] },
    "flag --body-timeout-seconds",
  ],
  ["callback_secret", { file: file({ callback_secret: [1] }) }, "file ./eremetic.yml"],
  ["tls_key", { env: { EREMETIC_TLS_CERT: "/c.pem" } }, "default"],
];

Deno.test("resolveConfig() gives one line naming key and source per invalid value", async (t) => {
  for (const [key, layers, source] of INVALID) {
    await t.step(`${key} from ${source}`, () => {
      const issues = issuesOf(layers);
      assertEquals(issues.length, 1, issues.join("\n"));
      assert(
        issues[0].startsWith(`Invalid config "${key}" from ${source}: `),
        `unexpected message: ${issues[0]}`,
      );
      assert(!issues[0].includes("\n"));
      assert(!issues[0].endsWith("."));
    });
  }
  await t.step("every key has an invalid case above", () => {
    const covered = new Set(INVALID.map(([key]) => key));
    for (const spec of CONFIG_KEYS) assert(covered.has(spec.key), `no invalid case: ${spec.key}`);
  });
  await t.step("checks across keys run beside other bad values", () => {
    const issues = issuesOf({
      env: { PORT: "x", DATABASE_DRIVER: "zk", EREMETIC_TLS_CERT: "/c.pem" },
      flags: ["--credential-file=/nope"],
    });
    assertEquals(issues.map((i) => /^Invalid config "(\w+)"/.exec(i)?.[1]), [
      "port",
      "database",
      "tls_key",
      "credential_file",
    ]);
  });
  await t.step("all problems are reported at once", () => {
    const issues = issuesOf({
      env: { PORT: "x", LOGLEVEL: "loud" },
      flags: ["--nope", "--queue-size=-2"],
    });
    assertEquals(issues.length, 4);
    const err = assertThrows(() => resolve({ env: { PORT: "x" } }), ConfigError) as ConfigError;
    assertEquals(err.name, "ConfigError");
    assert(err instanceof Error);
    assertEquals(err.message, err.issues.join("\n"));
  });
});

Deno.test("resolveConfig() never puts a secret in a message", async (t) => {
  const secret = "hunter2-Z9";
  const cases: ConfigLayers[] = [
    { env: { HTTP_CREDENTIALS: secret } },
    { env: { HTTP_CREDENTIALS: `${secret}:` } },
    { env: { HTTP_CREDENTIALS: `:${secret}` } },
    { flags: [`--http-credentials=${secret}`] },
    { file: file({ http_credentials: secret }) },
    { file: file({ http_credentials: [secret] }) },
    { file: file({ callback_secret: { key: secret } }) },
    { env: { MASTER: `zk://admin:${secret}@zk1` } },
    { env: { DATABASE_DRIVER: "zk", DATABASE: `zk://admin:${secret}@zk1:2181` } },
  ];
  for (const [i, layers] of cases.entries()) {
    await t.step(`case ${i}`, () => {
      const issues = issuesOf(layers);
      assertEquals(issues.length, 1);
      assert(!issues[0].includes(secret), issues[0]);
    });
  }
  await t.step("http_credentials says what form is expected", () => {
    assertEquals(issuesOf({ env: { HTTP_CREDENTIALS: secret } }), [
      'Invalid config "http_credentials" from env HTTP_CREDENTIALS: expected "user:password" ' +
      'with a non-empty user and password, or ""',
    ]);
  });
  await t.step("well-formed credentials are kept whole, split later at the first colon", () => {
    assertEquals(
      resolve({ env: { HTTP_CREDENTIALS: "u:p:w" } }).config.http_credentials,
      "u:p:w",
    );
  });
});

Deno.test("resolveConfig() reads credential_file into credential", async (t) => {
  const files: Record<string, string> = {
    "/etc/mesos/cred": "  eremetic\n  s3cr3t-value \n",
    "/etc/mesos/three": "a s3cr3t-value c",
    "/etc/mesos/one": "s3cr3t-value",
  };
  const options: ResolveOptions = {
    readTextFileSync: (path) => {
      if (path in files) return files[path];
      throw Object.assign(new Error(`No such file or directory: ${path}`), { name: "NotFound" });
    },
  };
  await t.step("two fields: principal and secret", () => {
    const { config } = resolve({ env: { CREDENTIAL_FILE: "/etc/mesos/cred" } }, options);
    assertEquals(config.credential, { principal: "eremetic", secret: "s3cr3t-value" });
    assert(Object.isFrozen(config.credential));
  });
  for (const path of ["/etc/mesos/three", "/etc/mesos/one"]) {
    await t.step(`malformed ${path}`, () => {
      const issues = issuesOf({ env: { CREDENTIAL_FILE: path } }, options);
      assertEquals(issues.length, 1);
      assertMatch(
        issues[0],
        /^Invalid config "credential_file" from env CREDENTIAL_FILE: expected ".*" to hold exactly two whitespace-separated fields "principal secret", found [13]$/,
      );
      assert(!issues[0].includes("s3cr3t"));
    });
  }
  await t.step("missing file", () => {
    assertEquals(issuesOf({ flags: ["--credential-file", "/nope"] }, options), [
      'Invalid config "credential_file" from flag --credential-file: cannot read "/nope": ' +
      "file not found",
    ]);
  });
});

Deno.test("resolveConfig() requires tls_cert and tls_key together", () => {
  assertEquals(issuesOf({ env: { EREMETIC_TLS_KEY: "/k.pem" } }), [
    'Invalid config "tls_cert" from default: tls_key is set (from env EREMETIC_TLS_KEY) but ' +
    "tls_cert is empty; set both or neither",
  ]);
  const { config } = resolve({ flags: ["--tls-cert=/c.pem", "--tls-key=/k.pem"] });
  assertEquals([config.tls_cert, config.tls_key], ["/c.pem", "/k.pem"]);
});

Deno.test("resolveConfig() notices ignored and discouraged settings", () => {
  const { notices } = resolve({ env: { MESSENGER_PORT: "5051", FRAMEWORK_ID: "1234" } });
  assertEquals(notices, [
    "messenger_address and messenger_port are ignored: the Mesos v1 HTTP API needs no " +
    "messenger (set from env MESSENGER_PORT)",
    'framework_id "1234" (from env FRAMEWORK_ID) is the original Eremetic\'s default; ' +
    "instances sharing it fight over one framework, leave it empty instead",
  ]);
});

Deno.test("resolveConfig() rejects unknown keys in the file and in defaults", () => {
  assertEquals(
    issuesOf({ file: { path: "e.yml", values: { prot: 1, zzz: 2 }, lines: { prot: 2 } } }),
    [
      'Unknown config key "prot" in file e.yml:2 (did you mean "port"?)',
      'Unknown config key "zzz" in file e.yml',
    ],
  );
  assertThrows(() => resolve({ defaults: { nope: 1 } as never }), TypeError);
  // `key:` with no value in YAML leaves the key to the lower layers.
  assertEquals(resolve({ defaults: { port: 1 }, file: file({ port: null }) }).config.port, 1);
});

// ---------------------------------------------------------------------------
// loadConfig()

interface FakeFs {
  files: Record<string, string>;
  reads: string[];
}

function fakeFs(files: Record<string, string>) {
  const fs: FakeFs = { files, reads: [] };
  const notFound = (path: string) =>
    Object.assign(new Error(`No such file or directory (os error 2): readfile '${path}'`), {
      name: "NotFound",
    });
  return {
    fs,
    options: {
      env: {},
      readTextFile: (path: string) => {
        fs.reads.push(path);
        return path in files ? Promise.resolve(files[path]) : Promise.reject(notFound(path));
      },
      exists: (path: string) => Promise.resolve(path in files),
      readTextFileSync: (path: string) => {
        if (path in files) return files[path];
        throw notFound(path);
      },
    },
  };
}

Deno.test("loadConfig() finds the file", async (t) => {
  await t.step("--config PATH wins over every default place", async () => {
    const { options } = fakeFs({
      "/srv/e.yml": "port: 1\n",
      "./eremetic.yml": "port: 2\n",
      "/etc/eremetic/eremetic.yml": "port: 3\n",
    });
    const loaded = await loadConfig(["--config", "/srv/e.yml"], options);
    assertEquals([loaded.path, loaded.config.port], ["/srv/e.yml", 1]);
    const eq = await loadConfig(["--config=/srv/e.yml"], options);
    assertEquals(eq.config.port, 1);
  });
  await t.step("EREMETIC_CONFIG comes after --config", async () => {
    const { options } = fakeFs({ "/a.yml": "port: 4\n", "./eremetic.yml": "port: 2\n" });
    const loaded = await loadConfig([], { ...options, env: { EREMETIC_CONFIG: "/a.yml" } });
    assertEquals([loaded.path, loaded.config.port], ["/a.yml", 4]);
  });
  await t.step("./eremetic.yml, else /etc/eremetic/eremetic.yml, else none", async () => {
    const both = fakeFs({ "./eremetic.yml": "port: 2\n", "/etc/eremetic/eremetic.yml": "x" });
    assertEquals((await loadConfig([], both.options)).config.port, 2);
    assertEquals(both.fs.reads, ["./eremetic.yml"]);
    const etc = fakeFs({ "/etc/eremetic/eremetic.yml": "port: 3\n" });
    const loaded = await loadConfig([], etc.options);
    assertEquals([loaded.path, loaded.config.port], ["/etc/eremetic/eremetic.yml", 3]);
    const none = await loadConfig([], fakeFs({}).options);
    assertEquals([none.path, none.config.port], [null, 8080]);
  });
  await t.step("layers above the file still win", async () => {
    const { options } = fakeFs({ "./eremetic.yml": "port: 2\nname: file\nqueue_size: 5\n" });
    const { config } = await loadConfig(["--port", "9"], {
      ...options,
      env: { NAME: "env" },
      defaults: { queue_size: 1, retention_seconds: 60 },
    });
    assertEquals(
      [config.port, config.name, config.queue_size, config.retention_seconds],
      [9, "env", 5, 60],
    );
  });
});

Deno.test("loadConfig() refuses a missing --config file", async () => {
  const { options } = fakeFs({ "./eremetic.yml": "port: 2\n" });
  const err = await loadConfig(["--config", "/missing.yml"], options).then(
    () => null,
    (e) => e,
  );
  assert(err instanceof ConfigError);
  assertEquals(err.issues, [
    'Cannot read config file "/missing.yml" (from flag --config): file not found',
  ]);
  const noValue = await loadConfig(["--config"], options).catch((e) => e);
  assert(noValue instanceof ConfigError);
  assertEquals(noValue.issues, ["Flag --config needs a value, e.g. --config eremetic.yml"]);
  const fromEnv = await loadConfig([], { ...options, env: { EREMETIC_CONFIG: "/gone.yml" } })
    .catch((e) => e);
  assert(fromEnv instanceof ConfigError);
  assertEquals(fromEnv.issues, [
    'Cannot read config file "/gone.yml" (from env EREMETIC_CONFIG): file not found',
  ]);
});

Deno.test("loadConfig() stops on a YAML syntax error naming file and line", async () => {
  const { options } = fakeFs({ "./eremetic.yml": "port: 8080\nname: [unclosed\nmaster: x\n" });
  const err = await loadConfig([], options).catch((e) => e);
  assert(err instanceof ConfigError);
  assert(err.issues.length >= 1);
  assertMatch(
    err.issues[0],
    /^Cannot parse config file "\.\/eremetic\.yml": YAML syntax error at line \d+, column \d+: /,
  );
});

Deno.test("loadConfig() reports file values with their line", async () => {
  const { options } = fakeFs({ "./eremetic.yml": "# comment\n\nport: eighty\n" });
  const err = await loadConfig([], options).catch((e) => e);
  assert(err instanceof ConfigError);
  assertEquals(err.issues, [
    'Invalid config "port" from file ./eremetic.yml:3: expected an integer 0-65535, got "eighty"',
  ]);
});

Deno.test("loadConfig() reads real files with Deno's APIs by default", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/eremetic.yml`;
    const cred = `${dir}/credential`;
    await Deno.writeTextFile(cred, "principal secret\n");
    await Deno.writeTextFile(path, `port: 8123\ncredential_file: ${JSON.stringify(cred)}\n`);
    const { config, path: used } = await loadConfig(["--config", path, "--name", "real"], {
      env: { EREMETIC_QUEUE_SIZE: "7" },
    });
    assertEquals(used, path);
    assertEquals([config.port, config.name, config.queue_size], [8123, "real", 7]);
    assertEquals(config.credential, { principal: "principal", secret: "secret" });
    const missing = await loadConfig(["--config", `${dir}/nope.yml`], { env: {} }).catch((e) => e);
    assert(missing instanceof ConfigError);
    assertMatch(missing.issues[0], /file not found$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("redactConfig() hides secrets and URL passwords", () => {
  const { config } = resolve({
    env: {
      HTTP_CREDENTIALS: "admin:pw-1",
      EREMETIC_CALLBACK_SECRET: "cb-2",
      MASTER: "zk://u:zk-3@zk1:2181/mesos",
      CREDENTIAL_FILE: "/cred",
    },
  }, { readTextFileSync: () => "principal sec-4" });
  const safe = redactConfig(config);
  const text = JSON.stringify(safe);
  for (const secret of ["pw-1", "cb-2", "zk-3", "sec-4"]) assert(!text.includes(secret), text);
  assertEquals(safe.http_credentials, "*******");
  assertEquals(safe.master, "zk://*******@zk1:2181/mesos");
  assertEquals(safe.credential_principal, "principal");
  assertEquals(safe.port, 8080);
  assertEquals(redactConfig(resolve({}).config).http_credentials, "");
});
