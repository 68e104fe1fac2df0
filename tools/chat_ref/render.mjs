// render.mjs - reference text of the published chat templates.
//
// Renders every template string of tests/data/chat/templates.json (as
// published in the models' tokenizer_config.json) for every conversation of
// tests/data/chat/conversations.json with @huggingface/jinja, the way
// transformers' apply_chat_template does: trim_blocks and lstrip_blocks on,
// raise_exception defined, context messages, add_generation_prompt (true),
// bos_token "<s>", eos_token "</s>".  Writes tests/data/chat/render_ref.json:
//   {"<template>": {"<conversation>": "<rendered text>" | {"error": "..."}}}
//
// Run (test-time only; the output is committed):
//   cd tools/chat_ref && npm ci && node render.mjs
import { Template } from "@huggingface/jinja";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const data = join(root, "tests", "data", "chat");
const templates = JSON.parse(readFileSync(join(data, "templates.json"), "utf8")).templates;
const convs = JSON.parse(readFileSync(join(data, "conversations.json"), "utf8")).conversations;

const out = {};
for (const [name, source] of Object.entries(templates)) {
  // @huggingface/jinja applies trim_blocks and lstrip_blocks itself, as
  // transformers configures its jinja2 environment, and defines
  // raise_exception (a template that calls it throws).
  const tmpl = new Template(source);
  out[name] = {};
  for (const c of convs) {
    try {
      out[name][c.name] = tmpl.render({
        messages: c.messages,
        add_generation_prompt: true,
        bos_token: "<s>",
        eos_token: "</s>",
      });
    } catch (e) {
      out[name][c.name] = { error: String(e.message) };
    }
  }
}
writeFileSync(join(data, "render_ref.json"), JSON.stringify(out, null, 1) + "\n");
console.log(`render.mjs: ${Object.keys(out).length} templates x ${convs.length} conversations`);
