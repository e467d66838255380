// Vendors the pinned browser libraries into atlas/static/ (this folder's parent) for the offline HTML pages,
// each with a license file covering the library and every package its bundle includes:
//   force-graph        its own UMD bundle, copied as is          -> force-graph.min.js (atlas export --format html)
//   regl-scatterplot   ESM only: bundled to one IIFE by esbuild  -> regl-scatterplot.min.js (atlas map)
// Run with `npm ci && npm run vendor` from this folder.
import { copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
const target = join(here, "..");
const lock = JSON.parse(readFileSync(join(here, "package-lock.json"), "utf8"));

function licenseText(folder) {
  const file = readdirSync(folder).find((name) => /^(licen[cs]e|copying)/i.test(name));
  return file ? readFileSync(join(folder, file), "utf8").trim() : null;
}

function version(name) {
  return JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8")).version;
}

// The lock entry a package at `path` (node_modules/...) resolves `name` to, the way Node looks it up.
function resolve(path, name) {
  for (let base = path; ; base = base.slice(0, base.lastIndexOf("/node_modules/"))) {
    const candidate = `${base}/node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (!base.includes("/node_modules/")) break;
  }
  if (lock.packages[`node_modules/${name}`]) return `node_modules/${name}`;
  throw new Error(`${name} (needed by ${path}) is not in package-lock.json`);
}

// Every package `root` depends on, directly or not (lock paths, sorted).
function closure(root) {
  const seen = new Set();
  const stack = [root];
  while (stack.length) {
    const path = stack.pop();
    for (const name of Object.keys(lock.packages[path].dependencies ?? {})) {
      const dep = resolve(path, name);
      if (!seen.has(dep)) {
        seen.add(dep);
        stack.push(dep);
      }
    }
  }
  seen.delete(root);
  return [...seen].sort();
}

function writeLicense(file, name, home, bundleName, paths, legal = "") {
  const parts = [`${name} ${version(name)} (${home})`, "", licenseText(join(modules, name)), "", `${bundleName} bundles the following packages:`];
  for (const path of paths) {
    const folder = join(here, path);
    if (!existsSync(folder)) throw new Error(`${path} is missing: run npm ci first`);
    const info = lock.packages[path];
    const text = licenseText(folder) ?? `Licensed under ${info.license} (the package ships no license file).`;
    parts.push("", "-".repeat(72), `${path.slice(path.lastIndexOf("node_modules/") + 13)} ${info.version} (${info.license})`, "", text);
  }
  if (legal.trim()) parts.push("", "-".repeat(72), "Legal comments in the bundled sources", "", legal.trim());
  writeFileSync(join(target, file), parts.join("\n") + "\n");
}

function inlinable(file, text) {
  if (text.toLowerCase().includes("</script") || text.includes("<!--")) {
    throw new Error(`${file} holds </script or <!-- and cannot be inlined into a page`);
  }
}

// force-graph: the package's own UMD bundle holds all its dependencies.
copyFileSync(join(modules, "force-graph", "dist", "force-graph.min.js"), join(target, "force-graph.min.js"));
writeLicense(
  "force-graph.LICENSE.txt",
  "force-graph",
  "https://github.com/vasturiano/force-graph",
  "force-graph.min.js",
  closure("node_modules/force-graph")
);
console.error(`vendored force-graph ${version("force-graph")} into ${target}`);

// regl-scatterplot: one IIFE defining the global ReglScatterplot = { createScatterplot }. Its dist file already
// inlines its own dependencies but pub-sub-es and regl, which esbuild adds, so the licence file covers the whole
// dependency closure, plus the legal comments esbuild found in the bundled sources (regl-scatterplot carries a
// copy of KDBush). regl resolves to its production build (regl.unchecked.js): no argument checks and no
// synchronous wait on every shader compile, which costs most in a software WebGL such as SwiftShader.
const reglUnchecked = {
  name: "regl-unchecked",
  setup(build) {
    build.onResolve({ filter: /^regl$/ }, () => ({ path: join(modules, "regl", "dist", "regl.unchecked.js") }));
  },
};
const scatter = await build({
  stdin: { contents: 'export { default as createScatterplot } from "regl-scatterplot";', resolveDir: here },
  bundle: true,
  format: "iife",
  globalName: "ReglScatterplot",
  minify: true,
  legalComments: "external",
  target: "es2020",
  metafile: true,
  plugins: [reglUnchecked],
  write: false,
  outfile: join(target, "regl-scatterplot.min.js"),
  logLevel: "warning",
  banner: { js: `/* regl-scatterplot ${version("regl-scatterplot")} and the packages it bundles: see regl-scatterplot.LICENSE.txt */` },
});
const output = (suffix) => scatter.outputFiles.find((f) => f.path.endsWith(suffix))?.text ?? "";
const bundle = output(".min.js");
inlinable("regl-scatterplot.min.js", bundle);
const dependencies = closure("node_modules/regl-scatterplot");
for (const input of Object.keys(scatter.metafile.inputs).filter((name) => name !== "<stdin>")) {
  const at = input.lastIndexOf("node_modules/");
  const rest = input.slice(at + 13).split("/");
  const pkg = input.slice(0, at + 13) + (rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]);
  if (at < 0 || (pkg !== "node_modules/regl-scatterplot" && !dependencies.includes(pkg))) {
    throw new Error(`the bundle includes ${input}, which is outside regl-scatterplot's dependencies`);
  }
}
writeFileSync(join(target, "regl-scatterplot.min.js"), bundle);
writeLicense(
  "regl-scatterplot.LICENSE.txt",
  "regl-scatterplot",
  "https://github.com/flekschas/regl-scatterplot",
  "regl-scatterplot.min.js",
  dependencies,
  output(".LEGAL.txt")
);
console.error(`vendored regl-scatterplot ${version("regl-scatterplot")} (esbuild ${version("esbuild")}) into ${target}`);
