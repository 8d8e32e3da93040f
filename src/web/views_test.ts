import assert from "node:assert/strict";
import { createViews, readTemplates } from "./views.ts";

const templates = await readTemplates();

Deno.test("readTemplates() finds pages and partials by name", () => {
  for (
    const name of [
      "layout",
      "index",
      "tasks",
      "task",
      "not_found",
      "unauthorized",
      "partials/task_table",
    ]
  ) {
    assert.ok(templates.has(name), name);
  }
});

Deno.test("templates print raw only other templates, never data", () => {
  for (const [name, text] of templates) {
    for (const m of text.matchAll(/<%~\s*([^%]*)%>/g)) {
      assert.match(m[1], /^(include\("@[\w/]+"|it\.body\s*$)/, `${name}: ${m[0]}`);
    }
  }
});

Deno.test("createViews() escapes what it prints", () => {
  const views = createViews(new Map([["page", "<p><%= it.name %></p>"]]));
  assert.equal(
    views.render("page", { name: `<img src=x onerror="alert(1)">&` }),
    "<p>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;</p>",
  );
  assert.throws(() => views.render("missing", {}), RangeError);
});
