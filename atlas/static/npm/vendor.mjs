// Copies the pinned force-graph UMD bundle into atlas/static/ (this folder's parent) for the offline HTML export,
// with a license file covering force-graph and every package its bundle includes.
// Run with `npm ci && npm run vendor` from this folder.
import { copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
const target = join(here, "..");

function licenseText(folder) {
  const file = readdirSync(folder).find((name) => /^(licen[cs]e|copying)/i.test(name));
  return file ? readFileSync(join(folder, file), "utf8").trim() : null;
}

const lock = JSON.parse(readFileSync(join(here, "package-lock.json"), "utf8"));
const root = join(modules, "force-graph");
const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;

copyFileSync(join(root, "dist", "force-graph.min.js"), join(target, "force-graph.min.js"));

const parts = [
  `force-graph ${version} (https://github.com/vasturiano/force-graph)`,
  "",
  licenseText(root),
  "",
  "force-graph.min.js bundles the following packages:",
];
const bundled = Object.entries(lock.packages)
  .filter(([path, info]) => path.startsWith("node_modules/") && path !== "node_modules/force-graph" && !info.dev)
  .sort(([a], [b]) => a.localeCompare(b));
for (const [path, info] of bundled) {
  const folder = join(here, path);
  if (!existsSync(folder)) throw new Error(`${path} is missing: run npm ci first`);
  const name = path.slice("node_modules/".length);
  const text = licenseText(folder) ?? `Licensed under ${info.license} (the package ships no license file).`;
  parts.push("", "-".repeat(72), `${name} ${info.version} (${info.license})`, "", text);
}
writeFileSync(join(target, "force-graph.LICENSE.txt"), parts.join("\n") + "\n");
console.error(`vendored force-graph ${version} into ${target}`);
