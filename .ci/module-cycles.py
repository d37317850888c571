#!/usr/bin/env python3
"""Fails when the modules (files) of a crate import each other in a circle.

For every crate of the workspace it maps each source file to its module path (`src/lib.rs` is
`crate`, `src/routes/mod.rs` and `src/routes.rs` are `crate::routes`, ...), reads every path the
file names (`use` declarations, including grouped ones, and paths in code such as
`crate::store::Tx`, `super::AppState` or `pages::render()` for a child module `pages`), resolves
each to the file that defines the module it names, and looks for strongly connected components
in the resulting graph. A parent's `mod child;` declaration is not an import; a parent that uses
an item of its child (`child::router()`, `pub use child::Thing`) is, and so is a child's
`use super::Thing`: either direction alone is fine, both together are a circle.

Usage: module-cycles.py [WORKSPACE_DIR]   (exit 1 and a list of the circles when there are any)
"""
import os
import re
import sys

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip_comments_and_strings(text):
    """Blanks out comments, string and char literals (keeping line breaks), so only code is read."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not re.match(r"[A-Za-z0-9_]", text[i - 1])):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            end = n if end < 0 else end + 1 + len(hashes)
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(re.sub(r"[^\n]", " ", text[i:j + 1]))
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]):
            m = re.match(r"'(\\.|[^\\'])'", text[i:])
            out.append(" " * len(m.group(0)))
            i += len(m.group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def expand_use(tree):
    """`a::{b, c::{d as e, f}}` -> [a::b, a::c::d, a::c::f]; renames and `*` are dropped."""
    tree = re.sub(r"\s+", " ", tree).strip()
    tree = re.sub(r"\s*(::|\{|\}|,)\s*", r"\1", tree)
    results = []

    def walk(prefix, rest):
        if "{" not in rest:
            for part in split_top(rest):
                part = part.split(" as ")[0].strip()
                if part:
                    results.append(prefix + part)
            return
        brace = rest.index("{")
        close = match_brace(rest, brace)
        head, inner, tail = rest[:brace], rest[brace + 1:close], rest[close + 1:]
        for part in split_top(inner):
            walk(prefix + head, part)
        if tail.strip(","):
            walk(prefix, tail.strip(","))

    walk("", tree)
    return [r.rstrip(":").removesuffix("::*").removesuffix("::self") for r in results]


def match_brace(s, start):
    depth = 0
    for i in range(start, len(s)):
        if s[i] == "{":
            depth += 1
        elif s[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return len(s) - 1


def split_top(s):
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return parts


def module_files(src):
    """{module path tuple: file} for the library of a crate whose sources are in `src`."""
    files = {}
    for root, _dirs, names in os.walk(src):
        for name in names:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, src)
            parts = rel[:-3].split(os.sep)
            if parts[0] == "bin" or rel == "main.rs":
                continue  # binaries are crates of their own, using the library by name
            if parts == ["lib"]:
                files[()] = path
                continue
            if parts[-1] == "mod":
                parts = parts[:-1]
            files[tuple(parts)] = path
    return files


def references(code, module, children):
    """Module paths (tuples) named in `code` of the file that is `module`."""
    found = []
    # Inline modules (`mod tests { ... }`): `super` and `self` inside them mean something else.
    stack, depth, pending = [], 0, None
    tokens = re.finditer(
        r"\bmod\s+(" + IDENT + r")\s*\{|\{|\}"
        r"|(\bpub(?:\([^)]*\))?\s+)?\buse\s+([^;]*);"
        r"|(?<![A-Za-z0-9_:])((?:crate|super|self|" + IDENT + r")(?:::" + IDENT + r")+)",
        code,
    )
    for t in tokens:
        if t.group(1):
            depth += 1
            stack.append((t.group(1), depth))
            continue
        if t.group(0) == "{":
            depth += 1
            continue
        if t.group(0) == "}":
            if stack and stack[-1][1] == depth:
                stack.pop()
            depth -= 1
            continue
        current = module + tuple(name for name, _ in stack)
        reexport = t.group(2) is not None
        paths = expand_use(t.group(3)) if t.group(3) is not None else [t.group(4)]
        for p in paths:
            resolved = resolve(p.split("::"), current, module, children, bool(stack))
            if resolved is None:
                continue
            # A facade re-exporting what its own submodules define uses none of it itself.
            if reexport and len(resolved) > len(current) and resolved[: len(current)] == current:
                continue
            found.append(resolved)
    return found


def resolve(segments, current, module, children, inline):
    segments = [s for s in segments if s]
    if not segments:
        return None
    base = list(current)
    if segments[0] == "crate":
        return tuple(segments[1:])
    if segments[0] in ("self", "super"):
        while segments and segments[0] in ("self", "super"):
            if segments.pop(0) == "super":
                if not base:
                    return None
                base.pop()
        return tuple(base + segments)
    if not inline and segments[0] in children:
        return tuple(list(module) + segments)
    return None  # another crate, a type's associated item, a local name


def file_of(path, files):
    """The file defining the longest module prefix of `path`."""
    for end in range(len(path), -1, -1):
        if path[:end] in files:
            return files[path[:end]]
    return None


def crate_cycles(src):
    files = module_files(src)
    edges = {f: {} for f in files.values()}
    for module, path in files.items():
        code = strip_comments_and_strings(open(path, encoding="utf-8").read())
        children = set(re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(" + IDENT + r")\s*;", code, re.M))
        for ref in references(code, module, children):
            target = file_of(ref, files)
            if target and target != path and not (module and ref[: len(module)] == module and target == path):
                edges[path].setdefault(target, set()).add("::".join(ref[len(module):] if ref[: len(module)] == module else ref))
    return [c for c in tarjan(edges) if len(c) > 1], edges


def tarjan(edges):
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    members = []
    for entry in sorted(os.listdir(root)):
        if os.path.isfile(os.path.join(root, entry, "Cargo.toml")) and os.path.isdir(os.path.join(root, entry, "src")):
            members.append(entry)
    failed = False
    for crate in members:
        cycles, edges = crate_cycles(os.path.join(root, crate, "src"))
        for cycle in cycles:
            failed = True
            print(f"{crate}: import circle through {len(cycle)} files:")
            for a in cycle:
                for b, names in sorted(edges[a].items()):
                    if b in cycle:
                        print(f"  {os.path.relpath(a, root)} -> {os.path.relpath(b, root)}: {', '.join(sorted(names)[:6])}")
    if failed:
        sys.exit(1)
    print(f"no import circles in {len(members)} crates ({', '.join(members)})")


if __name__ == "__main__":
    main()
