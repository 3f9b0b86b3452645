"""Issue 17, row 3: 2-D t-SNE of 10,000 x 128, ``ibviewer.embed`` defaults against scikit-learn's TSNE.

Both seeded, on the same ten Gaussian clusters; scikit-learn with ``n_jobs=--sklearn-jobs``
(its Barnes-Hut gradient uses every core through OpenMP either way). Trustworthiness (k=10)
of both, estimated from the same 2,000 query points ranked against all points. Interleaved,
best of ``--repeats``. Goal: >= 5x at trustworthiness within 0.01.

    python benchmarks/bench_tsne_speed.py [--n 10000] [--repeats 1] [--sklearn-jobs 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load  # noqa: E402
from bench_embedding import clusters  # noqa: E402

from ibviewer.core.embedding import embed, trustworthiness  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--sklearn-jobs", type=int, default=2)
    args = parser.parse_args()
    from sklearn.manifold import TSNE

    x, _ = clusters(args.n, 128)
    print(f"# bench_tsne_speed: {args.n} x 128 ({load()} at start)\n")
    ours_t, theirs_t = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        ours = embed(x, "tsne", 2, seed=0)
        ours_t.append(time.perf_counter() - start)
        start = time.perf_counter()
        theirs = TSNE(random_state=0, n_jobs=args.sklearn_jobs).fit_transform(x)
        theirs_t.append(time.perf_counter() - start)
        print(f"ibviewer {ours_t[-1]:.1f} s, scikit-learn {theirs_t[-1]:.1f} s ({load()})", flush=True)
    tw_ours = trustworthiness(x, ours, 10, max_queries=2000)
    tw_theirs = trustworthiness(x, theirs, 10, max_queries=2000)
    print("\n| implementation | seconds (best) | trustworthiness (k=10) |\n|---|---|---|")
    print(f"| ibviewer embed (defaults) | {min(ours_t):.1f} | {tw_ours:.4f} |")
    print(f"| scikit-learn TSNE (n_jobs={args.sklearn_jobs}) | {min(theirs_t):.1f} | {tw_theirs:.4f} |")
    print(f"\nspeed-up {min(theirs_t) / min(ours_t):.1f}x (goal >= 5x); trustworthiness difference "
          f"{tw_ours - tw_theirs:+.4f} (goal within 0.01); {load()} at the end")  # fmt: skip


if __name__ == "__main__":
    main()
