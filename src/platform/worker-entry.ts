/**
 * Where a worker entry script is. From source or an installed package: next to this library's
 * code. Inside a `bun build --compile` executable the bundle's import.meta.url points into the
 * embedded file system ($bunfs), where each extra entry point is stored as .js under a path
 * relative to the app's entry (e.g. /$bunfs/root/../node_modules/...): found there by name and
 * given to Worker as that exact path (README, "Single-file executables").
 */
import { readdirSync } from "node:fs";

const BUNFS = "/$bunfs/root";

/** Entries found so far, by URL: each is looked up once (in a compiled executable, a directory scan). */
const found = new Map<string, URL | string>();

export function workerEntry(relative: string, base: string): URL | string {
  const url = new URL(relative, base);
  let entry = found.get(url.href);
  if (entry === undefined) found.set(url.href, (entry = locate(url, relative, base)));
  return entry;
}

function locate(url: URL, relative: string, base: string): URL | string {
  if (!base.startsWith("file:///$bunfs/")) return url;
  const name = url.pathname.split("/").at(-1)!.replace(/\.ts$/, ".js");
  const embedded = embeddedFiles().find((f) => f.endsWith(`/${name}`));
  if (!embedded) {
    throw new Error(
      `${name} is not in this executable: add ./node_modules/bun-thread-manager/src/${relative.replace(/^\.\.\//, "")} as an entry point of bun build --compile (README, "Single-file executables")`,
    );
  }
  return embedded; // a path, not a URL: the name may hold ".." segments a URL would fold away
}

let files: string[] | undefined;
function embeddedFiles(): string[] {
  return (files ??= readdirSync(BUNFS, { recursive: true }).map((f) => `${BUNFS}/${f}`));
}
