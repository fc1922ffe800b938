"""Check the seed's claims on this machine: "a larger model is 5-10% better on STS-B" and "seconds vs minutes".

Runs the bundled suites (accuracy, latency, memory and retrieve + rerank) on
MiniLM and a larger model in one pytest run, embedding cache off, and prints
from the plugin's own JSON report: the STS-B Spearman of each, the gap in
points and per cent, seconds to encode 1,000 sentences, p50 per batch, peak
RSS, their ratios, and the hybrid's verdict.

    python benchmarks/seed_claims.py [--large mpnet] [--sts-path ../shared/data/stsbenchmark]

``mpnet`` needs ``python scripts/fetch_mpnet.py`` first (or the hub); a
random-weight shape such as ``random:bert-large`` gives true costs but no
meaningful accuracy.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, markdown, sts_arguments  # noqa: E402

SUITES = ["suites/test_accuracy.py", "suites/test_latency.py::test_latency_budget", "suites/test_memory.py",
          "suites/test_retrieval.py"]


def first(records: list[dict], kind: str, model: str) -> dict:
    return next(r for r in records if r["kind"] == kind and r["model"] == model)


def main() -> None:
    parser = sts_arguments(__doc__.splitlines()[0])
    parser.add_argument("--small", default="minilm")
    parser.add_argument("--large", default="mpnet")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "pytest", *SUITES, f"--embed-models={args.small},{args.large}",
                   f"--embed-sts-path={args.sts_path.resolve()}", "--embed-cache=off", f"--embed-report={report}",
                   "-p", "no:cacheprovider", "-q"]
        print("$", " ".join(command[2:]), flush=True)
        run = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        if not report.is_file():
            sys.exit(run.stdout + run.stderr)
        data = json.loads(report.read_text(encoding="utf-8"))
    records = data["results"]
    rows, figures = [], {}
    for model in (args.small, args.large):
        sts, latency, memory = (first(records, kind, Path(model).name) for kind in ("sts", "latency", "memory"))
        per_1000 = sts["encode_seconds"] / sts["n_unique"] * 1000
        figures[model] = (sts["spearman"], per_1000, latency["p50_ms"], memory["peak_rss_mb"], memory["params"])
        rows.append([model, f"{memory['params'] / 1e6:.1f}M", f"{sts['spearman']:.2f}", f"{per_1000:.1f}",
                     f"{latency['p50_ms']:.0f}", f"{memory['peak_rss_mb']:.0f}"])
    print(markdown(["model", "params", "STS-B dev Spearman", "encode 1,000 sentences (s)",
                    f"p50 ms / batch of {latency['batch_size']}", "peak RSS MB"], rows))
    (s_small, t_small, p_small, m_small, _), (s_large, t_large, p_large, m_large, _) = figures.values()
    print(f"\nSTS-B gap: {s_large - s_small:+.2f} points ({100 * (s_large - s_small) / s_small:+.1f}%)"
          f"  [seed: +5-10%]")
    print(f"speed: {args.large} encodes 1,000 sentences in {t_large:.1f} s vs {t_small:.1f} s "
          f"({t_large / t_small:.1f}x); p50 per batch {p_large / p_small:.1f}x; peak RSS {m_large / m_small:.1f}x")
    for hybrid in data.get("hybrid", []):
        from pytest_embedeval.measure.hybrid import HybridResult
        from pytest_embedeval.report.tables import hybrid_table

        print("\n" + "\n".join(hybrid_table(HybridResult.from_dict(hybrid))))
    if run.returncode != 0:
        print(f"\n(the suites reported failures, exit {run.returncode}:)\n{run.stdout[-3000:]}")


if __name__ == "__main__":
    main()
