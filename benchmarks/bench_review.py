"""Review of a generated 10,000-resource plan, as a ratio to `json.load` of the same file.

    .venv/bin/python -m benchmarks.bench_review [--resources 10000]

Review = load and validate the plan, run the guardrails, price it (monthly cost before and after,
qualisys_infra.plan.cost_review), render the pull-request Markdown (target <= 3 x json.load, cost
included), plus the text rendering for reference. Peak memory is tracemalloc's.
Rounds alternate between the two so machine noise hits both alike; medians are reported.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from benchmarks.measure import median
from benchmarks.plans import big_plan
from qualisys_infra.plan.cost_review import CostContext, add_costs
from qualisys_infra.plan.guardrails import check
from qualisys_infra.plan.model import load_plan
from qualisys_infra.plan.review import StackReview
from qualisys_infra.plan.review_markdown import render_markdown
from qualisys_infra.plan.review_text import render_text


def review(path: Path) -> int:
    plan = load_plan(path)
    reviews = add_costs([StackReview("dev-big", plan, check(plan))], _cost_context())
    comments = render_markdown(reviews)
    return sum(len(c) for c in comments)


def _cost_context() -> CostContext:
    """The built-in price table and usage assumptions, read as every review reads them."""
    from datetime import date

    from qualisys_infra.plan.prices import load_prices, load_usage

    return CostContext(load_prices(), load_usage(), date.today(), {"dev": "us-east-1"})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.json"
        path.write_text(json.dumps(big_plan(args.resources)), encoding="utf-8")
        size_mib = path.stat().st_size / 2**20
        loads, reviews = [], []
        for _ in range(args.rounds):
            started = time.perf_counter()
            with path.open("rb") as handle:
                json.load(handle)
            loads.append(time.perf_counter() - started)
            started = time.perf_counter()
            review(path)
            reviews.append(time.perf_counter() - started)
        started = time.perf_counter()
        plan = load_plan(path)
        render_text([StackReview("big", plan, check(plan))])
        text_seconds = time.perf_counter() - started
        tracemalloc.start()
        review(path)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    load, done = median(loads), median(reviews)
    ratio = done / load
    print(f"plan: {args.resources:,} resources, {size_mib:.1f} MiB")
    print(f"json.load:                     {load * 1000:.0f} ms (median of {args.rounds})")
    print(f"review (load+guardrails+md):   {done * 1000:.0f} ms = {ratio:.2f} x json.load (target <= 3)")
    print(f"text review, every attribute:  {text_seconds * 1000:.0f} ms (for reference)")
    print(f"peak memory of one review:     {peak / 2**20:.0f} MiB (tracemalloc)")
    return 0 if ratio <= 3 else 1


if __name__ == "__main__":
    sys.exit(main())
