// The extension's entry (dist/extension.js, package.json `main`): loads Grove (dist/grove.js, built from
// src/extension.ts, the composition root) with a V8 code cache kept in the extension's global storage, so a window
// that activates Grove deserialises its compiled code instead of parsing 600 KiB of JavaScript again. The cache is
// made once per build of Grove and per V8 (its key is a hash of both); anything wrong with it — missing, from
// another build, rejected by V8, unreadable storage — means Grove compiles as `require` would, and the cache is
// written again after activation.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import type * as vscode from 'vscode';

type Main = typeof import('./extension');

let main: Main | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<Awaited<ReturnType<Main['activate']>>> {
  const loaded = load(path.join(__dirname, 'grove.js'), path.join(context.globalStorageUri.fsPath, 'code-cache'));
  main = loaded.main;
  const api = await main.activate(context);
  // After activation: the cache then holds the functions activation compiled too.
  const save = loaded.save;
  if (save) setImmediate(() => void save());
  return api;
}

export function deactivate(): Promise<void> | undefined {
  return main?.deactivate();
}

/** The module at `file`, run from `cacheDir`'s code cache when it has one for this build; `save` writes one. */
export function load(file: string, cacheDir: string): { main: Main; save?: () => Promise<void> } {
  let source: Buffer;
  try {
    source = fs.readFileSync(file);
  } catch {
    return { main: require(file) as Main };
  }
  const key = createHash('sha1').update(source).update(`\0${v8.cachedDataVersionTag()}`).digest('hex').slice(0, 24);
  const cacheFile = path.join(cacheDir, `grove-${key}.bin`);
  const cachedData = readCache(cacheFile);
  // Node's own CommonJS wrapper, so the bundle runs as `require` would run it; on a line of its own, so that errors
  // (and source maps) name the bundle's own lines and columns.
  const wrapped = `(function (exports, require, module, __filename, __dirname) {\n${source.toString('utf8')}\n});`;
  const script = new vm.Script(wrapped, { filename: file, lineOffset: -1, ...(cachedData ? { cachedData } : {}) });
  const mod = { exports: {} as Main };
  (script.runInThisContext() as (...args: unknown[]) => void).call(mod.exports, mod.exports, require, mod, file, path.dirname(file));
  if (cachedData && !script.cachedDataRejected) return { main: mod.exports };
  return { main: mod.exports, save: () => saveCache(script, cacheDir, cacheFile) };
}

/**
 * A cache file is `MAGIC`, the SHA-1 of the data, the data. V8 checks little of what it is given (the source's
 * length, its own version and flags; not the bytes), so a damaged file is refused here, never run.
 */
const MAGIC = Buffer.from('grove-v8-cache-1');

function readCache(cacheFile: string): Buffer | undefined {
  let raw: Buffer;
  try {
    raw = fs.readFileSync(cacheFile);
  } catch {
    return undefined;
  }
  const data = raw.subarray(MAGIC.length + 20);
  const ok = raw.length > MAGIC.length + 20 && raw.subarray(0, MAGIC.length).equals(MAGIC)
    && createHash('sha1').update(data).digest().equals(raw.subarray(MAGIC.length, MAGIC.length + 20));
  return ok ? data : undefined;
}

async function saveCache(script: vm.Script, cacheDir: string, cacheFile: string): Promise<void> {
  try {
    const code = script.createCachedData();
    const data = Buffer.concat([MAGIC, createHash('sha1').update(code).digest(), code]);
    await fs.promises.mkdir(cacheDir, { recursive: true });
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    await fs.promises.writeFile(tmp, data);
    await fs.promises.rename(tmp, cacheFile);
    // Older builds' caches are of no use any more (nor what a process that died while writing left).
    for (const name of await fs.promises.readdir(cacheDir)) {
      if (/^grove-[0-9a-f]+\.bin(\.\d+\.tmp)?$/.test(name) && name !== path.basename(cacheFile) && name !== path.basename(tmp)) {
        await fs.promises.rm(path.join(cacheDir, name), { force: true });
      }
    }
  } catch {
    // Only a cache: without it the next activation compiles Grove again.
  }
}
