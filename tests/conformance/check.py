#!/usr/bin/env python3
"""The conformance gate: replays the recorded Atlas traffic (../shared/conformance/corpus.jsonl)
against a fresh localatlas and fails when a figure falls below its floor (floors.json).

    python3 tests/conformance/check.py --bin target/release/localatlas [--shared ../shared]

Starts the binary on a free port with a memory store and the instant lifecycle, runs the
replayer that ships with the corpus (it prints the per-operation table and the figures), then
compares the report's figures with the floors. Skips (exit 0, with a message) when the corpus
is not next to the repository. Needs Python 3.9+ with PyYAML (the replayer's requirement).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True, help="the localatlas binary")
    parser.add_argument("--shared", default=os.path.join(HERE, "..", "..", "..", "shared"))
    parser.add_argument("--floors", default=os.path.join(HERE, "floors.json"))
    args = parser.parse_args()

    corpus = os.path.join(args.shared, "conformance", "corpus.jsonl")
    replayer = os.path.join(args.shared, "tools", "conformance", "replay.py")
    if not (os.path.isfile(corpus) and os.path.isfile(replayer)):
        print("conformance corpus not found next to the repository; replay skipped")
        return 0
    with open(args.floors) as f:
        floors = json.load(f)

    work = tempfile.mkdtemp(prefix="localatlas-conformance-")
    boot = os.path.join(work, "bootstrap.json")
    log = open(os.path.join(work, "server.log"), "w")
    server = subprocess.Popen(
        [args.bin, "serve", "--listen", "127.0.0.1:0", "--store", "memory",
         "--lifecycle", "instant", "--bootstrap-out", boot],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(400):
            if os.path.exists(boot) and os.path.getsize(boot) > 0:
                break
            if server.poll() is not None:
                print("localatlas exited before it was ready", file=sys.stderr)
                return 1
            time.sleep(0.05)
        with open(boot) as f:
            b = json.load(f)
        report = os.path.join(work, "replay-report.json")
        auth = "digest {}:{}".format(b["apiKey"]["publicKey"], b["apiKey"]["privateKey"])
        replay = subprocess.run(
            [sys.executable, replayer, b["baseUrl"].split("/api/")[0], "--auth", auth,
             "--report", report],
        )
        if replay.returncode != 0 or not os.path.exists(report):
            print("the replayer failed", file=sys.stderr)
            return 1
        with open(report) as f:
            overall = json.load(f)["overall"]
    finally:
        server.terminate()
        server.wait(timeout=10)

    lost = sum(n for reason, n in overall["skip_reasons"].items()
               if reason.startswith("prerequisite")) / overall["exchanges"]
    figures = [
        ("status_match_rate", overall["status_match_rate"], floors["status_match_rate"], True),
        ("mean_shape_similarity", overall["mean_shape_similarity"],
         floors["mean_shape_similarity"], True),
        ("error_code_match_rate", overall["error_code_match_rate"],
         floors["error_code_match_rate"], True),
        ("lost_to_prerequisites", lost, floors["max_lost_to_prerequisites"], False),
    ]
    failed = 0
    print("\nconformance figures against their floors:")
    for name, value, floor, higher_is_better in figures:
        ok = value >= floor if higher_is_better else value <= floor
        failed += not ok
        bound = ">=" if higher_is_better else "<="
        print(f"  {name:24} {value:.3f}  (floor {bound} {floor})  {'ok' if ok else 'BELOW FLOOR'}")
    print(f"{len(figures) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
