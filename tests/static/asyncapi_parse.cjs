// The official AsyncAPI parser over one document: prints its diagnostics as a JSON list.
// Run by tests/static/test_asyncapi_document.py with NODE_PATH at .judges-npm/node_modules.
const { Parser, fromFile } = require("@asyncapi/parser");

(async () => {
  const { diagnostics } = await fromFile(new Parser(), process.argv[2]).parse();
  const said = diagnostics.map(({ code, message, severity, path }) => ({ code, message, severity, path }));
  process.stdout.write(JSON.stringify(said));
})().catch((error) => {
  console.error(error);
  process.exit(2);
});
