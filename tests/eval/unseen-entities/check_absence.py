#!/usr/bin/env python3
"""Re-check that no name of any unseen entity occurs in its set's corpus.

Usage: python3 check_absence.py [EVAL_ROOT]   (default ../shared/eval beside the repository)
For each {education,medicine,culture}.jsonl next to this script, every string in
`entity` + `aliases` is searched case-insensitively as a plain substring of
title + "\n" + text of every passage in EVAL_ROOT/<set>/corpus.jsonl.
Exit status 1 if any name occurs.
"""
import json, os, sys

here = os.path.dirname(os.path.abspath(__file__))
root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "../../../../shared/eval")
bad = 0
for name in ("education", "medicine", "culture"):
    corpus = []
    with open(os.path.join(root, name, "corpus.jsonl"), encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            corpus.append(((d.get("title") or "") + "\n" + d["text"]).lower())
    n = 0
    with open(os.path.join(here, name + ".jsonl"), encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            n += 1
            for term in [q["entity"]] + q["aliases"]:
                t = term.lower()
                hits = sum(t in c for c in corpus)
                if hits:
                    bad += 1
                    print(f"{name}: {q['id']} {term!r} occurs in {hits} passage(s)")
    print(f"{name}: {n} questions checked")
print("FAIL" if bad else "OK: no entity name or alias occurs in its corpus")
sys.exit(1 if bad else 0)
