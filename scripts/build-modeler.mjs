// Bundles the in-browser modeler (service/web/assets/modeler.js and the npm packages it imports: bpmn-js,
// bpmn-js-properties-panel, camunda-bpmn-moddle, dmn-js, CodeMirror) into build/modeler/modeler.js and .css, which
// /processes/edit serves. Run by `npm run build` (part of `make install`); the output is not committed.
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
await esbuild.build({
  absWorkingDir: root,
  entryPoints: ["service/web/assets/modeler.js"],
  outdir: "build/modeler",
  bundle: true,
  minify: true,
  format: "iife",
  target: ["chrome100", "firefox100", "safari15"],
  legalComments: "linked",
  define: { "process.env.NODE_ENV": '"production"' },
  // the icon fonts become files beside the bundle (a browser fetches only the one format it uses)
  loader: { ".woff": "file", ".woff2": "file", ".ttf": "file", ".eot": "file", ".svg": "file", ".json": "json" },
  assetNames: "fonts/[name]-[hash]",
  logLevel: "warning",
});
