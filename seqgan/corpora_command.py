"""`seqgan corpora list|info NAME|check [NAME...]`: the corpus registry and what the data directory holds."""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
from pathlib import Path

from tqdm import tqdm

from seqgan.data import registry
from seqgan.data.corpus import DATA_ENV, CorpusError, data_dir
from seqgan.data.oracle import OracleFileError, find_oracle_arrays
from seqgan.music.tokens import SUFFIX as MELODY_SUFFIX


CORPORA_CHECK_EPILOG = (
    "Exit status: 0 when every checked file is present and matches the sha256 in its manifest; 1 when a file of "
    "a NAMEd corpus is missing or any checked file differs from its manifest; 2 for an unknown NAME. Without NAMEs "
    "every corpus is checked, but corpora whose files are absent are only reported, not counted as failures (you "
    "may hold only some corpora): then only checksum mismatches (and unreadable files) fail. The oracle's three "
    "files are alternatives and optional (a seeded random oracle is the fallback): one intact file is enough.")


def add_parser(sub) -> None:
    c = sub.add_parser("corpora", help="list the corpora (default), show one (info NAME), verify files (check)",
                       description=f"The corpus registry (corpora/*.json) and what the data directory ${DATA_ENV} "
                                   "holds. Without a sub-command: list.")
    c.add_argument("--json", action="store_true", help="list/check: print JSON instead of text")
    cmds = c.add_subparsers(dest="corpora_command", metavar="SUBCOMMAND")
    # default=SUPPRESS: `seqgan corpora --json list` and `seqgan corpora list --json` both work
    lst = cmds.add_parser("list", help="every corpus and whether its files are present (no hashing)",
                          description="Every registered corpus: kind, whether its files exist in the data directory "
                                      "(existence only; `check` verifies checksums) and a short description.")
    lst.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON instead of a table")
    info = cmds.add_parser("info", help="every manifest field of one corpus, and where its files are looked for")
    info.add_argument("name", metavar="NAME")
    chk = cmds.add_parser("check", help="verify the sha256 of corpus files (default: every corpus)",
                          description="Hash every file of the NAMEd corpora (default: all) and compare with the "
                                      "manifests; one line per file.", epilog=CORPORA_CHECK_EPILOG)
    chk.add_argument("names", nargs="*", metavar="NAME", help="corpus names (default: every corpus)")
    chk.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON instead of text")


def _corpus_manifest(name: str):
    manifests = registry.load_manifests()
    if name not in manifests:
        raise CorpusError(f"unknown corpus '{name}'; known corpora: {', '.join(manifests)}")
    return manifests[name]


def _data_dir_line(root: Path | None) -> str:
    if root is None:
        return (f"data directory (${DATA_ENV}): not set; export {DATA_ENV}=/path/to/corpora (the folder that holds "
                "each corpus's folder, e.g. texygen-image-coco/)")
    missing = "" if root.is_dir() else " (does not exist)"
    return f"data directory (${DATA_ENV}): {root}{missing}; to use another: export {DATA_ENV}=/path/to/corpora"


def _corpus_kind(m) -> str:
    if m.kind != "text":
        return m.kind
    return f"text/{m.level}" + (", test only" if m.train is None else "")


def _corpus_presence(m, root: Path | None) -> tuple[str, dict[str, bool]]:
    """("present" / "missing" / "partial (k/n files)" / "no data directory", {file: exists}); existence only."""
    if root is None:
        return "no data directory", {}
    exists = {rel: (root / m.folder / rel).is_file() for rel in m.files}
    n = sum(exists.values())
    if m.kind == "oracle":  # alternatives (npz or either pickle), and optional
        return ("present" if n else "missing (optional)"), exists
    if n == len(exists):
        return "present", exists
    return ("missing" if n == 0 else f"partial ({n}/{len(exists)} files)"), exists


def _oracle_status(root: Path | None) -> str:
    try:
        arrays, where = find_oracle_arrays(root)
    except OracleFileError as e:
        return f"unusable: {e}"
    return f"published oracle: {where}" if arrays is not None else f"seeded random oracle ({where})"


def _corpora_list(args: argparse.Namespace) -> int:
    root = data_dir()
    entries, kinds = [], []
    for name, m in registry.load_manifests().items():
        state, exists = _corpus_presence(m, root)
        entry = {"name": name, "kind": m.kind, "level": m.level, "test_only": m.kind == "text" and m.train is None,
                 "folder": m.folder, "path": str(root / m.folder) if root else None, "status": state,
                 "files": {rel: exists.get(rel) for rel in m.files}, "description": m.description}
        if m.kind == "oracle":
            entry["oracle"] = _oracle_status(root)  # verifies the one file the oracle would use
        entries.append(entry)
        kinds.append(_corpus_kind(m))
    if getattr(args, "json", False):
        print(json.dumps({"data_env": DATA_ENV, "data_dir": str(root) if root else None, "corpora": entries},
                         indent=2))
        return 0
    print(_data_dir_line(root))
    rows = [(e["name"], kind, e["status"]) for e, kind in zip(entries, kinds)]
    widths = [max(len(r[i]) for r in rows + [("NAME", "KIND", "FILES")]) for i in range(3)]
    desc_width = max(30, shutil.get_terminal_size((100, 24)).columns - sum(widths) - 4)
    print("  ".join(h.ljust(w) for h, w in zip(("NAME", "KIND", "FILES"), widths)) + "  DESCRIPTION")
    for row, e in zip(rows, entries):
        short = textwrap.shorten(e["description"], width=desc_width, placeholder=" ...")
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)) + "  " + short)
        if "oracle" in e:
            print(f"{'':<{widths[0]}}  status: {e['oracle']}")
    music = [name for name, m in registry.load_manifests().items() if m.kind == "music"]
    if music:
        print(f"melody tokens for the text trainers (--corpus): {', '.join(n + MELODY_SUFFIX for n in music)}, or "
              "melody:<folder of MIDI files>")
    print("details: seqgan corpora info NAME; verify checksums: seqgan corpora check [NAME ...]")
    return 0


def _indented(label: str, text: str, width: int = 100) -> str:
    return textwrap.fill(" ".join(str(text).split()), width=width, initial_indent=f"{label + ':':<16}",
                         subsequent_indent=" " * 16, break_long_words=False, break_on_hyphens=False)


def _corpora_info(args: argparse.Namespace) -> int:
    m = _corpus_manifest(args.name)
    root = data_dir()
    raw = dict(m.raw)
    out = [f"{'name:':<16}{m.name}", f"{'kind:':<16}{_corpus_kind(m)}", f"{'manifest:':<16}{m.manifest_path}",
           _indented("description", m.description), _indented("citation", m.citation),
           _indented("license", m.license), f"{'source:':<16}{m.source}"]
    if m.kind == "text":
        out += [f"{'level:':<16}{m.level}", f"{'tokenizer:':<16}{m.tokenizer}",
                f"{'lowercase:':<16}{'yes' if m.lowercase else 'no'}",
                f"{'max_len:':<16}{m.max_len} tokens per sentence (default)"]
        out.append("splits:")
        if m.train is None:
            out.append(f"{'':<16}train: none (test only: no training split in this corpus)")
        frac = (m.split or {}).get("test_last_fraction")
        for split, file in m.splits.items():
            note = ""
            if frac is not None and split == "train":
                note = f" (all but the last {frac:.0%} of its non-blank lines)"
            elif frac is not None and split == "test":
                note = f" (the last {frac:.0%} of its non-blank lines)"
            out.append(f"{'':<16}{split}: {file}{note}")
    elif m.kind == "audio":
        out.append(_indented("splits", "recordings 0-4 of each speaker and digit are the test set, 5-49 training "
                                       "(FSDD's official split); loaded by seqgan.audio.data.load_fsdd"))
    elif m.kind == "music":
        out.append(_indented("splits", "fixed train/test split of the pieces, see preprocessing; loaded by "
                                       "seqgan.music.dataset.load_music_corpus"))
    else:
        out.append(f"{'splits:':<16}none: training and held-out sequences are sampled from the oracle LSTM")
    state, exists = _corpus_presence(m, root)
    where = (f"{root / m.folder}/ ({state})" if root is not None
             else f"${DATA_ENV}/{m.folder}/ (${DATA_ENV} is not set; export {DATA_ENV}=/path/to/corpora)")
    out.append(f"{'location:':<16}{where}")
    out.append("files:")
    file_width = max(len(rel) for rel in m.files)
    for rel, digest in m.files.items():
        mark = "no data directory" if root is None else ("present" if exists[rel] else "missing")
        out.append(f"{'':<16}{rel:<{file_width}}  sha256 {digest}  {mark}")
    if m.kind == "oracle":
        out.append(_indented("status", _oracle_status(root) + " (the files are alternatives and optional)"))
    out.append(_indented("preprocessing", m.preprocessing))
    stats = raw.get("stats")
    if isinstance(stats, dict) and stats:
        out.append("stats:")
        for k, v in stats.items():
            shown = ", ".join(f"{a} {b}" for a, b in v.items()) if isinstance(v, dict) else v
            out.append(f"{'':<16}{k}: {shown}")
    shown_keys = {*registry.COMMON_FIELDS, *registry.TEXT_FIELDS, "kind", "valid", "split", "stats"}
    other = {k: v for k, v in raw.items() if k not in shown_keys}
    if other:
        out.append("other fields:")
        out += [f"{'':<16}{k}: {v if isinstance(v, str) else json.dumps(v)}" for k, v in other.items()]
    print("\n".join(out))
    return 0


def _check_failures(m, statuses, named: bool) -> list:
    """The statuses that make `check` fail: mismatches and unreadable files always, missing files for a NAMEd
    corpus (for the oracle, only when none of its alternative files is there)."""
    bad = [s for s in statuses if s.status == registry.MISMATCH
           or (s.status == registry.MISSING and s.path is not None and s.path.exists())]
    if named and not (m.kind == "oracle" and any(s.ok for s in statuses)):
        bad += [s for s in statuses if s.status == registry.MISSING and s not in bad]
    return bad


def _check_lines(m, statuses, width: int) -> list[str]:
    lines = []
    for s in statuses:
        head = f"{m.name:<{width}}  {s.file}: "
        if s.ok:
            lines.append(head + "ok")
        elif s.status == registry.MISMATCH:
            lines.append(head + f"checksum mismatch: {s.path}\n{'':<{width}}    expected sha256 {s.expected}\n"
                                f"{'':<{width}}    actual   sha256 {s.actual}\n"
                                f"{'':<{width}}    restore the original from {m.source}")
        else:
            lines.append(head + f"missing{' (optional)' if m.kind == 'oracle' else ''}: {s.message}")
    if m.kind == "oracle":
        lines.append(f"{m.name:<{width}}  status: {_oracle_status(data_dir())}")
    return lines


def _corpora_check(args: argparse.Namespace) -> int:
    root = data_dir()
    named = bool(args.names)
    manifests = [_corpus_manifest(n) for n in dict.fromkeys(args.names or registry.list_corpora())]
    as_json = getattr(args, "json", False)
    width = max(len(m.name) for m in manifests)
    if not as_json:
        print(_data_dir_line(root))
    sizes = {}
    for m in manifests:
        paths = [root / m.folder / rel for rel in m.files] if root is not None else []
        sizes[m.name] = sum(p.stat().st_size for p in paths if p.is_file())
    results, failures = {}, []
    with tqdm(total=sum(sizes.values()), unit="B", unit_scale=True, desc="sha256", file=sys.stderr,
              disable=None, leave=False) as bar:
        for m in manifests:
            statuses = registry.check(m.name)
            bar.update(sizes[m.name])
            bad = _check_failures(m, statuses, named)
            failures += bad
            results[m.name] = (statuses, bad)
            if not as_json:
                for line in _check_lines(m, statuses, width):
                    tqdm.write(line, file=sys.stdout)
    all_statuses = [s for statuses, _ in results.values() for s in statuses]
    counts = {k: sum(s.status == k for s in all_statuses)
              for k in (registry.PRESENT, registry.MISSING, registry.MISMATCH)}
    if as_json:
        report = {"data_env": DATA_ENV, "data_dir": str(root) if root else None, "named": named,
                  "ok": not failures, "corpora": {}}
        for m in manifests:
            statuses, bad = results[m.name]
            report["corpora"][m.name] = {
                "ok": not bad, "folder": m.folder,
                "files": [{"file": s.file, "path": str(s.path) if s.path else None, "status": s.status,
                           "ok": s.ok, "expected": s.expected, "actual": s.actual, "message": s.message}
                          for s in statuses]}
            if m.kind == "oracle":
                report["corpora"][m.name]["oracle"] = _oracle_status(root)
        print(json.dumps(report, indent=2))
        return 1 if failures else 0
    corpora = "corpus" if len(manifests) == 1 else "corpora"
    print(f"checked {len(all_statuses)} files of {len(manifests)} {corpora}: {counts[registry.PRESENT]} ok, "
          f"{counts[registry.MISSING]} missing, {counts[registry.MISMATCH]} checksum mismatch")
    if counts[registry.MISSING] and not named:
        print("missing files fail only for corpora named on the command line: seqgan corpora check NAME ...")
    if failures:
        print(f"FAILED: {', '.join(f'{s.corpus}/{s.file} ({s.status})' for s in failures)}")
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    command = getattr(args, "corpora_command", None) or "list"
    return {"list": _corpora_list, "info": _corpora_info, "check": _corpora_check}[command](args)
