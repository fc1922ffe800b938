"""Build a BEIR-format retrieval set from local STS data: paraphrase retrieval among every STS sentence.

Queries are the first sentences of pairs scored >= 4 of 5 (a paraphrase or nearly so); each query's
relevant documents (grade 1) are the second sentences of those pairs; the corpus is every other
sentence of the files, so the rest of the data is the distractors, many of them on the same topic
(the STS files pair sentences that share words).  A sentence that is itself a query is left out of
the corpus: it would retrieve itself.  Pairs whose two sentences are the same text are skipped.

    python scripts/build_sts_retrieval.py OUT [--sts-b ../shared/data/stsbenchmark/sts-dev.csv]
        [--extra ../shared/data/mteb-sts/STS13.csv ../shared/data/mteb-sts/STS16.csv] [--min-score 4]

Writes OUT/corpus.jsonl, OUT/queries.jsonl and OUT/qrels/test.tsv (BEIR's layout).  The data comes
from the SemEval STS files (STS-B dev, STS 2013 and 2016 test sets); their licences apply.  Nothing
is committed: the set is rebuilt from the files it names, deterministically.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pytest_embedeval.measure.data import read_file

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def build(files: list[Path], min_score: float) -> tuple[list[str], list[str], list[tuple[int, int]]]:
    """Queries, corpus and (query, document) index pairs, in file order."""
    pairs = [row for path in files for row in read_file(path)]
    relevant: dict[str, list[str]] = {}
    for s1, s2, score in pairs:
        if score >= min_score and s1.strip() != s2.strip():
            relevant.setdefault(s1, [])
            if s2 not in relevant[s1]:
                relevant[s1].append(s2)
    queries = list(relevant)
    as_query = set(queries)
    corpus = [s for s in dict.fromkeys(s for s1, s2, _ in pairs for s in (s1, s2)) if s not in as_query]
    position = {sentence: i for i, sentence in enumerate(corpus)}
    qrels = [(q, position[doc]) for q, query in enumerate(queries) for doc in relevant[query] if doc in position]
    judged = {q for q, _ in qrels}
    return [queries[q] for q in sorted(judged)], corpus, [(sorted(judged).index(q), d) for q, d in qrels]


def write(out: Path, queries: list[str], corpus: list[str], qrels: list[tuple[int, int]]) -> None:
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as handle:
        for i, text in enumerate(corpus):
            handle.write(json.dumps({"_id": f"d{i}", "title": "", "text": text}) + "\n")
    with (out / "queries.jsonl").open("w", encoding="utf-8") as handle:
        for i, text in enumerate(queries):
            handle.write(json.dumps({"_id": f"q{i}", "text": text}) + "\n")
    with (out / "qrels" / "test.tsv").open("w", encoding="utf-8") as handle:
        handle.write("query-id\tcorpus-id\tscore\n")
        handle.writelines(f"q{q}\td{d}\t1\n" for q, d in qrels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--sts-b", type=Path, default=SHARED / "stsbenchmark" / "sts-dev.csv")
    parser.add_argument("--extra", type=Path, nargs="*",
                        default=[SHARED / "mteb-sts" / "STS13.csv", SHARED / "mteb-sts" / "STS16.csv"])
    parser.add_argument("--min-score", type=float, default=4.0)
    args = parser.parse_args()
    queries, corpus, qrels = build([args.sts_b, *args.extra], args.min_score)
    write(args.out, queries, corpus, qrels)
    print(f"{args.out}: {len(queries)} queries, {len(corpus)} documents, {len(qrels)} relevance judgements")


if __name__ == "__main__":
    main()
