"""BalancedSampler: shares by seconds, rank splits, exact resume, streaming mixing, clear errors."""

from __future__ import annotations

import datasets
import numpy as np
import pytest

from facevid_datasets.training import BalancedSampler, ClipDataset, population_shares
from facevid_datasets.training.plan import Draw


def records(sizes: dict[str, int], seed: int = 0, column: str = "source") -> list[dict]:
    """Plain records; group g has sizes[g] clips with durations that differ between groups."""
    rng = np.random.default_rng(seed)
    out = []
    for gi, (g, n) in enumerate(sizes.items()):
        for i in range(n):
            d = float(rng.uniform(2.0, 8.0) * (1 + gi))  # groups differ in mean duration too
            rec = {"clip_id": f"{g}-{i}", "video": {"path": f"/nonexistent/{g}{i}.mp4", "bytes": None},
                   "fps": 25.0, "num_frames": int(d * 25), "duration": d, "source": "s",
                   "attributes": {"ethnicity": None}}
            if column == "source":
                rec["source"] = g
            else:
                rec["attributes"] = {"ethnicity": g}
            out.append(rec)
    return out


def seconds_by_group(sampler: BalancedSampler, draws: list[Draw]) -> dict[str, float]:
    out: dict[str, float] = {}
    for d in draws:
        g = sampler.group_of(d.row)
        out[g] = out.get(g, 0.0) + float(sampler.durations[d.row])
    return out


def test_equal_mode_balances_seconds_across_100_fold_sizes():
    ds = ClipDataset(records({"big": 3000, "small": 30, "mid": 400}))
    s = BalancedSampler(ds, "source", "equal", seed=3)
    secs = seconds_by_group(s, list(s))
    total = sum(secs.values())
    for g, v in secs.items():
        assert abs(v / total - 1 / 3) < 0.02 * (1 / 3), (g, v / total)
    # natural mode on the same data is far from equal: the check above can fail
    nat = BalancedSampler(ds, "source", "natural", seed=3)
    nsecs = seconds_by_group(nat, list(nat))
    assert nsecs["small"] / sum(nsecs.values()) < 0.05
    assert sorted(d.row for d in nat) == list(range(len(ds)))  # natural: one pass, each clip once


def test_population_mode_matches_table_on_nested_column():
    table = population_shares("ethnicity")
    sizes = {g: 50 + 40 * i for i, g in enumerate(table)}
    ds = ClipDataset(records(sizes, column="attributes.ethnicity"))
    s = BalancedSampler(ds, "attributes.ethnicity", "population", seed=0, epoch_seconds=200_000)
    secs = seconds_by_group(s, list(s))
    total = sum(secs.values())
    for g, share in table.items():
        assert abs(secs[g] / total - share) < 0.02 * share + 0.001, (g, secs[g] / total, share)
    # the shipped table says where it comes from
    from facevid_datasets.training import population_tables

    t = population_tables()["ethnicity"]
    assert "World Population Prospects" in t["source"] and t["year"] == 2022


def test_population_override_and_explicit_weights():
    ds = ClipDataset(records({"a": 100, "b": 100}))
    s = BalancedSampler(ds, "source", "population", table={"a": 3, "b": 1}, seed=1)
    secs = seconds_by_group(s, list(s))
    assert abs(secs["a"] / (secs["a"] + secs["b"]) - 0.75) < 0.02
    w = BalancedSampler(ds, "source", "weights", weights={"a": 1, "b": 4}, seed=1)
    secs = seconds_by_group(w, list(w))
    assert abs(secs["b"] / (secs["a"] + secs["b"]) - 0.8) < 0.02


def test_group_without_clips_is_an_error_naming_it():
    ds = ClipDataset(records({"a": 10, "b": 10}))
    with pytest.raises(ValueError, match="'zz'"):
        BalancedSampler(ds, "source", "weights", weights={"a": 1, "zz": 1})
    with pytest.raises(ValueError, match="Latino"):
        BalancedSampler(ClipDataset(records({"Asian": 5, "White": 5}, column="attributes.ethnicity")),
                        "attributes.ethnicity", "population")


def test_ranks_disjoint_within_each_step_and_cover_the_epoch():
    ds = ClipDataset(records({"big": 500, "small": 5}))
    world, bs = 3, 4
    per_rank = [list(BalancedSampler(ds, "source", "equal", seed=7, batch_size=bs, rank=r, world_size=world))
                for r in range(world)]
    assert len({len(p) for p in per_rank}) == 1
    full = BalancedSampler(ds, "source", "equal", seed=7, batch_size=bs, rank=0, world_size=world)._order()
    assert sorted(d.row for p in per_rank for d in p) == sorted(full.tolist())
    for step in range(len(per_rank[0]) // bs):
        rows = [d.row for p in per_rank for d in p[step * bs : (step + 1) * bs]]
        assert len(rows) == len(set(rows)), f"a clip is on two ranks in step {step}"


def test_resume_mid_epoch_equals_uninterrupted_run():
    ds = ClipDataset(records({"a": 200, "b": 20}))

    def make() -> BalancedSampler:
        return BalancedSampler(ds, "source", "equal", seed=5, batch_size=4, rank=1, world_size=2)

    ref = make()
    ref.set_epoch(2)
    uninterrupted = list(ref)
    run = make()
    run.set_epoch(2)
    it = iter(run)
    seen = [next(it) for _ in range(40)]  # a DataLoader with workers reads further ahead ...
    run.mark_consumed([d.position for d in seen[28:32]])  # ... but the trainer used 32 items
    state = run.state_dict()
    assert state["consumed"] == 32 and state["epoch"] == 2
    resumed = make()
    resumed.load_state_dict(state)
    resumed.set_epoch(2)  # the training loop's set_epoch keeps the resume point of that epoch
    rest = list(resumed)
    assert [d.row for d in seen[:32] + rest] == [d.row for d in uninterrupted]
    assert [d.key for d in seen[:32] + rest] == [d.key for d in uninterrupted]
    resumed.set_epoch(3)
    assert len(list(resumed)) == len(resumed)  # next epoch starts from the beginning
    with pytest.raises(ValueError, match="world_size"):
        BalancedSampler(ds, "source", seed=5, batch_size=4, rank=0, world_size=4).load_state_dict(state)


def test_epochs_differ_and_seed_is_deterministic():
    ds = ClipDataset(records({"a": 50, "b": 50}))
    a = BalancedSampler(ds, "source", seed=1)
    b = BalancedSampler(ds, "source", seed=1)
    assert [d.row for d in a] == [d.row for d in b]
    e0 = [d.row for d in a]
    a.set_epoch(1)
    assert [d.row for d in a] != e0


def test_hf_dataset_input_reads_nested_column_via_arrow():
    recs = records({"x": 30, "y": 3}, column="attributes.ethnicity")
    feats = datasets.Features({
        "clip_id": datasets.Value("string"), "video": {"path": datasets.Value("string"),
                                                       "bytes": datasets.Value("binary")},
        "fps": datasets.Value("float32"), "num_frames": datasets.Value("int32"),
        "duration": datasets.Value("float32"), "source": datasets.Value("string"),
        "attributes": {"ethnicity": datasets.Value("string")},
    })
    hf = datasets.Dataset.from_list(recs, features=feats)
    s = BalancedSampler(ClipDataset(hf), "attributes.ethnicity", "equal", seed=0)
    secs = seconds_by_group(s, list(s))
    assert abs(secs["x"] / sum(secs.values()) - 0.5) < 0.05


def _stream(recs: list[dict]) -> datasets.IterableDataset:
    return datasets.IterableDataset.from_generator(lambda: iter(recs))


def test_streaming_equal_mix_ranks_and_resume():
    recs = records({"big": 600, "small": 6})
    rng = np.random.default_rng(0)
    recs = [recs[i] for i in rng.permutation(len(recs))]
    stream = _stream(recs)
    dur = {r["clip_id"]: r["duration"] for r in recs}

    def draws(rank: int, world: int = 2, state: dict | None = None) -> list:
        s = BalancedSampler(stream, "source", "equal", groups=["big", "small"], num_samples=400, seed=2,
                            batch_size=2, rank=rank, world_size=world)
        if state:
            s.load_state_dict(state)
        return list(s.stream_draws(stream))

    r0, r1 = draws(0), draws(1)
    assert len(r0) == len(r1) == 200
    secs: dict[str, float] = {}
    for _, rec in r0 + r1:
        secs[rec["source"]] = secs.get(rec["source"], 0.0) + dur[rec["clip_id"]]
    assert abs(secs["small"] / sum(secs.values()) - 0.5) < 0.03, secs
    for step in range(100):  # no clip on both ranks in one step
        ids = [rec["clip_id"] for _, rec in r0[2 * step : 2 * step + 2] + r1[2 * step : 2 * step + 2]]
        assert len(ids) == len(set(ids))
    state = {"epoch": 0, "consumed": 60, "seed": 2, "world_size": 2, "batch_size": 2, "rank": 0}
    resumed = draws(0, state=state)
    assert [rec["clip_id"] for _, rec in resumed] == [rec["clip_id"] for _, rec in r0[60:]]
    with pytest.raises(ValueError, match="'nobody'"):
        s = BalancedSampler(stream, "source", "equal", groups=["big", "nobody"], num_samples=50)
        list(s.stream_draws(stream))


def test_num_samples_sets_the_epoch_length_in_draws():
    ds = ClipDataset(records({"a": 300, "b": 10}))
    s = BalancedSampler(ds, "source", "equal", num_samples=200, seed=0)
    assert abs(len(s) - 200) <= 10  # expected draws: seconds are met exactly, counts on average
    secs = seconds_by_group(s, list(s))
    assert abs(secs["a"] / sum(secs.values()) - 0.5) < 0.05
    assert len(BalancedSampler(ds, "source", "natural", num_samples=500)) == 500
