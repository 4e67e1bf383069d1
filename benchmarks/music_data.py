"""Melody windows extracted from the music corpora: counts kept and skipped (by reason and metre), and timing.

    python benchmarks/music_data.py [--json OUT]

Needs $SEQGAN_DATA holding nottingham/ and jsb-chorales/. Encoding and metre policy: seqgan/music/dataset.py.
"""
from __future__ import annotations

import argparse
import time

from _common import stamp, write_json
from seqgan.music.dataset import load_music_corpus


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", metavar="OUT")
    args = p.parse_args()
    rows = []
    for name in ("nottingham", "jsb_chorales"):
        for bars in (2, 16):
            t0 = time.perf_counter()
            corpus = load_music_corpus(name, bars, progress=False)
            st = corpus.stats
            rows.append({"corpus": name, "bars": bars, "seconds": time.perf_counter() - t0,
                         "windows_train": len(corpus.train), "windows_test": len(corpus.test),
                         "pieces_train": st["pieces"]["train"], "pieces_test": st["pieces"]["test"],
                         "files": st["files"], "no_windows": st["no_windows"],
                         "skipped": {k: v for k, v in st["skipped"].items() if v},
                         "skipped_by_metre": st["skipped_by_metre"], "files_by_metre": st["files_by_metre"]})
    print(f"{'corpus':14}{'bars':>5}{'windows train/test':>20}{'pieces train/test':>19}{'no window':>10}"
          f"{'seconds':>9}  skipped files")
    for r in rows:
        print(f"{r['corpus']:14}{r['bars']:>5}{r['windows_train']:>12,} / {r['windows_test']:<6,}"
              f"{r['pieces_train']:>11} / {r['pieces_test']:<5}{r['no_windows']:>10}{r['seconds']:>9.1f}  "
              f"{r['skipped'] or '-'} {r['skipped_by_metre'] or ''}")
    write_json(args.json, {"runs": rows, **stamp("cpu")})


if __name__ == "__main__":
    main()
