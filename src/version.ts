/** The version of this build; `deno task compile` may replace it. */
export const VERSION = "0.1.0";
