#!/usr/bin/env python3
"""Fails when the README's "How it is built" section is not true of the code.

It checks the two blocks the section holds:
- the layout block: every folder it names (`name/` at the start of a line) exists, and every
  workspace member is named;
- the arrows block: one line per workspace crate, `crate -> dep, dep (tests: dep, dep)` or
  `crate -> nothing`, must list exactly the workspace crates that crate depends on, as its
  Cargo.toml says ([dependencies], and in parentheses [dev-dependencies]).

Usage: readme-architecture.py [WORKSPACE_DIR]
"""
import os
import re
import sys
import tomllib


def section(readme, title):
    match = re.search(r"^## " + re.escape(title) + r"\n(.*?)(?=^## |\Z)", readme, re.S | re.M)
    if not match:
        sys.exit(f"README.md has no '## {title}' section")
    return match.group(1)


def blocks(text):
    return re.findall(r"^```[a-z]*\n(.*?)^```", text, re.S | re.M)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    with open(os.path.join(root, "Cargo.toml"), "rb") as f:
        workspace = tomllib.load(f)["workspace"]
    members = workspace["members"]
    names = {}
    deps = {}
    for member in members:
        with open(os.path.join(root, member, "Cargo.toml"), "rb") as f:
            manifest = tomllib.load(f)
        names[member] = manifest["package"]["name"]
    by_name = {v: k for k, v in names.items()}
    for member in members:
        with open(os.path.join(root, member, "Cargo.toml"), "rb") as f:
            manifest = tomllib.load(f)
        normal = sorted(d for d in manifest.get("dependencies", {}) if d in by_name)
        dev = sorted(d for d in manifest.get("dev-dependencies", {}) if d in by_name)
        deps[names[member]] = (normal, dev)

    readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
    text = section(readme, "How it is built")
    found = blocks(text)
    problems = []
    layout = next((b for b in found if "Cargo.toml" in b), None)
    arrows = next((b for b in found if "->" in b), None)
    if layout is None:
        problems.append("no layout block (a code block naming Cargo.toml and the folders)")
    else:
        listed = set()
        for line in layout.splitlines():
            for folder in re.findall(r"^(\S+/)", line) + re.findall(r"\s{2,}(\S+/)\s", line):
                folder = folder.rstrip("/")
                listed.add(folder)
                if not os.path.isdir(os.path.join(root, folder)):
                    problems.append(f"the layout names {folder}/, which does not exist")
        for member in members:
            if member not in listed:
                problems.append(f"the layout does not name the workspace member {member}/")
    if arrows is None:
        problems.append("no arrows block (lines 'crate -> dep, dep (tests: dep)')")
    else:
        seen = set()
        for line in arrows.splitlines():
            m = re.match(r"^\s*(\S+)\s+->\s+(.*?)\s*$", line)
            if not m:
                continue
            crate, rest = m.group(1), m.group(2)
            tests = []
            t = re.search(r"\(tests:\s*([^)]*)\)", rest)
            if t:
                tests = sorted(x.strip() for x in t.group(1).split(",") if x.strip())
                rest = rest[: t.start()]
            normal = [] if rest.strip() in ("nothing", "") else sorted(x.strip() for x in rest.split(",") if x.strip())
            seen.add(crate)
            if crate not in deps:
                problems.append(f"the arrows name {crate}, which is no workspace crate")
                continue
            want_normal, want_dev = deps[crate]
            if normal != want_normal:
                problems.append(f"{crate} -> {', '.join(normal) or 'nothing'}, but Cargo.toml says {', '.join(want_normal) or 'nothing'}")
            if tests != want_dev:
                problems.append(f"{crate} (tests: {', '.join(tests)}), but its dev-dependencies are {', '.join(want_dev) or 'none'}")
        for crate in deps:
            if crate not in seen:
                problems.append(f"the arrows block has no line for {crate}")
    if problems:
        print("README.md 'How it is built' is not true of the code:")
        for p in problems:
            print("  " + p)
        sys.exit(1)
    print(f"README.md 'How it is built' matches the code ({len(members)} crates)")


if __name__ == "__main__":
    main()
