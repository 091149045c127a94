#!/usr/bin/env python3
"""The shape of the house, checked on every test run (docs/ARCHITECTURE.md):

1. Inside each shipped crate, the top-level modules import each other without
   cycles. The crate root (lib.rs) is the crate's front door, not a module
   among others: it declares the modules and may hold the crate's main type
   that modules extend (`impl Store` in `query.rs`), so edges to and from it
   are printed but not counted. Test code (files named tests.rs, and
   everything from a `#[cfg(test)]` line on) is left out.
2. Dependencies between our crates point down, and some crates must not know
   some libraries: `src-tauri` depends on `wa-app` alone among our crates;
   `wa-mcp` has no keyring, directories or tracing-subscriber; the store
   knows neither the engine, MCP nor Tauri; only the app crate and the icon
   tool touch the OS folders.
3. Every module of `wa-mcp` serves the MCP server: each is used by the server
   or by the session code that runs it (nothing left over for other programs).

Prints the module graph of each crate and exits 1 with the reasons when a rule
breaks. Standard library only: runs before anything is built.
"""
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = {
    "wa-store": ROOT / "crates/store",
    "wa-engine": ROOT / "crates/engine",
    "wa-mcp": ROOT / "crates/mcp",
    "wa-clients": ROOT / "crates/clients",
    "wa-app": ROOT / "crates/app",
    "whatsapp-mcp": ROOT / "crates/helper",
    "whatsapp-mcp-desktop": ROOT / "src-tauri",
}
# Allowed dependencies among our crates (normal dependencies, not dev ones).
ALLOWED = {
    "wa-store": set(),
    "wa-corpus": {"wa-store"},
    "wa-engine": {"wa-store", "wa-corpus"},
    "wa-mcp": {"wa-store", "wa-engine"},
    "wa-clients": set(),
    "wa-app": {"wa-store", "wa-engine", "wa-mcp", "wa-clients", "wa-corpus"},
    "whatsapp-mcp": {"wa-app"},
    "whatsapp-mcp-desktop": {"wa-app"},
}
FORBIDDEN_LIBS = {
    "wa-mcp": {"keyring", "directories", "tracing-subscriber", "tauri"},
    "wa-store": {"whatsapp-rust", "rmcp", "tauri", "directories", "keyring"},
    "wa-engine": {"rmcp", "tauri", "directories", "keyring"},
    "wa-app": {"tauri", "rmcp"},
}

problems = []


def code_of(path: Path) -> str:
    """The file without its test part and comments."""
    text = path.read_text(encoding="utf-8")
    cut = re.search(r"^\s*#\[cfg\((all\()?test", text, re.M)
    if cut:
        text = text[: cut.start()]
    text = re.sub(r"//[^\n]*", "", text)
    return text


def modules(src: Path, root_file: Path) -> dict[str, list[Path]]:
    """Top-level module name -> its files (the module and its submodules)."""
    declared = re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", code_of(root_file), re.M)
    found = {}
    for name in declared:
        files = []
        if (src / f"{name}.rs").exists():
            files.append(src / f"{name}.rs")
        folder = src / name
        if folder.is_dir():
            files += sorted(p for p in folder.rglob("*.rs"))
        found[name] = [f for f in files if f.name != "tests.rs" and "tests" not in f.relative_to(src).parts[:-1]]
    return found


def graph(crate: Path) -> dict[str, set[str]]:
    src = crate / "src"
    root_file = src / "lib.rs" if (src / "lib.rs").exists() else src / "main.rs"
    mods = modules(src, root_file)
    names = set(mods)
    edges = {name: set() for name in names} | {"(root)": set()}
    for name, files in mods.items():
        for f in files:
            code = code_of(f)
            for ref in re.findall(r"\bcrate::(\w+)", code):
                edges[name].add(ref if ref in names else "(root)")
            for group in re.findall(r"\buse\s+crate::\{([^}]*)\}", code):
                for ref in re.findall(r"(?:^|,)\s*(\w+)", group):
                    edges[name].add(ref if ref in names else "(root)")
            # `super::` in a top-level module's own file is the root.
            if f.parent == src and re.search(r"\bsuper::", code):
                edges[name].add("(root)")
            edges[name].discard(name)
    root_code = re.sub(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*;", "", code_of(root_file), flags=re.M)
    # Re-exports (`pub use m::Item;`) declare the crate's API; they are not the root using `m`.
    root_uses = re.sub(r"^\s*pub use [^;]*;", "", root_code, flags=re.M)
    for ref in re.findall(r"\b(\w+)::", root_uses):
        if ref in names:
            edges["(root)"].add(ref)
    # The root's `pub use` re-exports are the crate's API, not imports: a
    # module using `crate::Item` re-exported from `m` really uses `m`.
    reexports = {}
    for module, items in re.findall(r"pub use (\w+)::\{?([\w, ]+)\}?;", root_code):
        for item in re.findall(r"\w+", items):
            reexports[item] = module
    for name, files in mods.items():
        for f in files:
            for ref in re.findall(r"\bcrate::([A-Z]\w*)", code_of(f)):
                if ref in reexports:
                    edges[name].discard("(root)")
                    edges[name].add(reexports[ref])
            edges[name].discard(name)
    return edges, mods


def cycle(edges: dict[str, set[str]]):
    state = {}
    stack = []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def dependencies(crate: Path) -> set[str]:
    manifest = tomllib.loads((crate / "Cargo.toml").read_text(encoding="utf-8"))
    deps = set(manifest.get("dependencies", {}))
    for target in manifest.get("target", {}).values():
        deps |= set(target.get("dependencies", {}))
    return deps


for name, crate in SHIPPED.items():
    edges, _ = graph(crate)
    print(f"{name}:")
    for node in sorted(edges):
        if edges[node]:
            print(f"  {node} -> {', '.join(sorted(edges[node]))}")
    found = cycle({n: {m for m in e if m != "(root)"} for n, e in edges.items() if n != "(root)"})
    if found:
        problems.append(f"{name}: its modules import each other in a circle: {' -> '.join(found)}")
    deps = dependencies(crate)
    ours = {d for d in deps if d.startswith("wa-") or d.startswith("whatsapp-mcp")}
    extra = ours - ALLOWED.get(name, set())
    if extra:
        problems.append(f"{name} depends on {', '.join(sorted(extra))}; allowed: {', '.join(sorted(ALLOWED[name])) or 'none of ours'}")
    bad = deps & FORBIDDEN_LIBS.get(name, set())
    if bad:
        problems.append(f"{name} must not depend on {', '.join(sorted(bad))}")

# Every module of wa-mcp serves the MCP server: reached from the entry points
# (`session`: one session on a stream; `remote`: sessions over HTTP; `server`:
# the tools), or implementing a trait that a reached module defines (the
# approvals queue is the `policy::Approver` the gate waits on).
mcp, mcp_files = graph(SHIPPED["wa-mcp"])
reached = set()
changed = True
while changed:
    changed = False
    todo = [n for n in ("server", "session", "remote") if n not in reached]
    while todo:
        node = todo.pop()
        if node in reached:
            continue
        reached.add(node)
        changed = True
        todo += [n for n in mcp.get(node, ()) if n != "(root)"]
    traits = {t for n in reached for f in mcp_files.get(n, []) for t in re.findall(r"pub trait (\w+)", code_of(f))}
    for node, files in mcp_files.items():
        if node not in reached and any(re.search(rf"impl\s+(?:[\w:]+::)?{t}\s+for\b", code_of(f)) for t in traits for f in files):
            reached.add(node)
            todo.append(node)
            changed = True
left = set(mcp) - reached - {"(root)"}
if left:
    problems.append(f"wa-mcp modules that the MCP server does not use: {', '.join(sorted(left))}")

checked = len(SHIPPED) * 2 + 1
if problems:
    print("\n".join(["", *problems]), file=sys.stderr)
    print(f"{checked - len(problems)} passed, {len(problems)} failed")
    sys.exit(1)
print(f"{checked} passed, 0 failed")
