/**
 * Rendering over Eta: every template under `templates/` is read once at start-up
 * (from the repository, or from the compiled binary, which embeds the folder with
 * `deno compile --include templates`) and registered by name (`@task`,
 * `@partials/task_table`). Auto-escaping stays on: `<%= %>` escapes, and no template
 * prints raw (`<%~ %>`) anything but other templates.
 *
 * @module
 */
import { Eta } from "eta";

/** The templates folder next to the source tree (also inside a compiled binary). */
export const TEMPLATES_DIR: URL = new URL("../../templates/", import.meta.url);

/** Renders a named page or partial with a view model. */
export interface Views {
  render(name: string, model: object): string;
}

/** Reads every `.eta` file below `dir` as `[name without extension, text]`. */
export async function readTemplates(dir: URL = TEMPLATES_DIR): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (sub: string) => {
    for await (const entry of Deno.readDir(new URL(sub, dir))) {
      if (entry.isDirectory) await walk(`${sub}${entry.name}/`);
      else if (entry.name.endsWith(".eta")) {
        out.set(
          `${sub}${entry.name.slice(0, -4)}`,
          await Deno.readTextFile(new URL(sub + entry.name, dir)),
        );
      }
    }
  };
  await walk("");
  return out;
}

/** Compiles templates given as text (`name` → source) into a renderer. */
export function createViews(templates: ReadonlyMap<string, string>): Views {
  const eta = new Eta({ autoEscape: true, cache: true, autoTrim: [false, "nl"] });
  for (const [name, text] of templates) eta.loadTemplate(`@${name}`, text);
  return {
    render(name, model) {
      if (!templates.has(name)) throw new RangeError(`Cannot render "${name}": no such template`);
      return eta.render(`@${name}`, model);
    },
  };
}
