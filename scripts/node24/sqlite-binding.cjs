// Preloaded (NODE_OPTIONS=--require) when the suite runs on a second Node version: loads
// better-sqlite3's addon from the copy built for that Node (TOKEN_USAGE_TEST_SQLITE_BINDING)
// instead of node_modules' build, which belongs to the machine's Node and must stay intact.
// Preloads also run in worker threads, so the SQLite worker store gets the same addon.
"use strict";
const binding = process.env.TOKEN_USAGE_TEST_SQLITE_BINDING;
if (binding) {
  const dlopen = process.dlopen;
  process.dlopen = function redirected(module, filename, ...rest) {
    const target = /[\\/]better-sqlite3[\\/]build[\\/]Release[\\/]better_sqlite3\.node$/.test(filename) ? binding : filename;
    return dlopen.call(this, module, target, ...rest);
  };
}
