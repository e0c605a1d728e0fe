#!/usr/bin/env python3
"""One feature set for the whole workspace (the cargo-hakari idea, offline and dependency-free).

Cargo resolves the features of a third-party crate per build: `cargo test --workspace` sees every
member's dev-dependencies (criterion turns on plotters' line series, burn's `optim` is a dev
feature of calibr8-burn, ...), `cargo run -p calibr8-cli` sees only the CLI's graph. A crate whose
features differ between two builds is compiled twice, and so is everything above it: one feature
of `smallvec` is a rebuild of tract and burn.

`workspace-hack/` (package `calibr8-workspace-hack`) depends on every third-party crate whose
features differ between the builds the README documents, with the union of their features as
`cargo test --release --workspace` resolves them. The binary (calibr8-cli) takes it as a normal
dependency, the packages with examples or benches as a dev-dependency, so each of those builds
resolves the same features as the test build and reuses its artifacts.

    python3 scripts/workspace_hack.py check      # exit 1 and list the differences, if any
    python3 scripts/workspace_hack.py generate   # rewrite workspace-hack/Cargo.toml

Run `generate` after changing dependencies or features, then `check`.
"""

import collections
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HACK = os.path.join(ROOT, "workspace-hack", "Cargo.toml")

# The reference build: the README's test command.
REFERENCE = ("cargo test --release --workspace", ["--workspace", "-e", "normal,build,dev"])
# Every build the README documents after it, with the dependency kinds it compiles.
BUILDS = [
    ("cargo run --release -p calibr8-cli", ["-p", "calibr8-cli", "-e", "normal,build"]),
    ("cargo run --release -p calibr8-burn --example digits_burn",
     ["-p", "calibr8-burn", "-e", "normal,build,dev"]),
    ("cargo run --release -p calibr8-tensorrt --example tensorrt_resnet18",
     ["-p", "calibr8-tensorrt", "-e", "normal,build,dev"]),
    ("cargo bench (root package)", ["-p", "calibr8", "-e", "normal,build,dev"]),
]
# Used only by proc-macros and build scripts: declared as build-dependencies of the hack.
HOST_ONLY = {"syn"}
LINE = re.compile(r"^(?P<name>\S+) v(?P<version>\S+)(?P<rest>.*?)\|(?P<features>.*)$")


def features(args):
    """package (name, version) -> set of feature lists (one per host/target instance)."""
    out = subprocess.run(
        ["cargo", "tree", "--offline", "--prefix", "none", "-f", "{p}|{f}", *args],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    found = collections.defaultdict(set)
    for line in out.splitlines():
        m = LINE.match(line.strip().removesuffix(" (*)"))
        if not m or "(/" in m.group("rest"):  # workspace members are path packages
            continue
        found[(m.group("name"), m.group("version"))].add(m.group("features"))
    return found


def target_only(args):
    """`args` restricted to what is compiled for the target: no build-dependencies, no
    proc-macros (those are compiled for the host, with their own feature set)."""
    args = list(args)
    ix = args.index("-e") + 1
    kinds = [k for k in args[ix].split(",") if k != "build"]
    args[ix] = ",".join(kinds + ["no-proc-macro"])
    return args


def differences():
    reference = features(REFERENCE[1])
    reference_target = features(target_only(REFERENCE[1]))
    diffs = {}
    for title, args in BUILDS:
        build = features(args)
        for pkg in sorted(set(build) & set(reference)):
            # A build may lack an instance (a crate compiled for a proc-macro only in the test
            # build); what it compiles must be among what the test build compiled.
            if not build[pkg] <= reference[pkg]:
                diffs.setdefault(pkg, []).append((title, sorted(build[pkg])))
        # ... and a crate compiled for the target must have the test build's target features
        # exactly: the test build's host instance of it does not help (libc with and without
        # `extra_traits` looked "among what the test build compiled" and rebuilt tract).
        build_target = features(target_only(args))
        for pkg in sorted(set(build_target) & set(reference_target)):
            if build_target[pkg] != reference_target[pkg] and pkg not in diffs:
                diffs.setdefault(pkg, []).append((f"{title} (target)", sorted(build_target[pkg])))
    return reference, diffs


def check():
    reference, diffs = differences()
    for (name, version), seen in diffs.items():
        print(f"{name} {version}: {REFERENCE[0]} builds it with {sorted(reference[(name, version)])}")
        for title, feats in seen:
            print(f"    {title}: {feats}")
    if diffs:
        print(f"{len(diffs)} crate(s) would be rebuilt with other features: "
              "run `python3 scripts/workspace_hack.py generate`", file=sys.stderr)
        return 1
    print(f"every documented build resolves the features of `{REFERENCE[0]}`")
    return 0


def generate():
    reference, diffs = differences()
    # Keep what the hack already lists: removing an entry would split the features again.
    current = open(HACK).read() if os.path.exists(HACK) else ""
    listed = set(re.findall(r'package = "([^"]+)"', current))
    wanted = {pkg for pkg in reference if pkg in diffs or pkg[0] in listed}
    by_name = collections.defaultdict(list)
    for name, version in wanted:
        by_name[name].append(version)
    normal, host = [], []
    for name in sorted(by_name):
        for version in sorted(by_name[name]):
            union = sorted({f for fs in reference[(name, version)] for f in fs.split(",") if f})
            key = name if len(by_name[name]) == 1 else f"{name}-{version.split('.')[0]}-{version.split('.')[1]}"
            feats = ", ".join(f'"{f}"' for f in union)
            entry = (f'{key} = {{ package = "{name}", version = "{version}", '
                     f'default-features = false, features = [{feats}] }}')
            (host if name in HOST_ONLY else normal).append(entry)
    header = open(HACK).read().split("[dependencies]")[0] if current else ""
    with open(HACK, "w") as f:
        f.write(header.rstrip() + "\n\n[dependencies]\n" + "\n".join(normal) + "\n")
        f.write("\n[build-dependencies]\n" + "\n".join(host) + "\n")
    print(f"wrote {HACK}: {len(normal)} dependencies, {len(host)} build-dependencies")
    return 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "check"
    sys.exit({"check": check, "generate": generate}.get(command, lambda: print(__doc__) or 2)())
