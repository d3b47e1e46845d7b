"""BalancedSampler: shares of delivered seconds, draws by window positions, elastic resume, step rules."""

from __future__ import annotations

from collections import Counter

import datasets
import numpy as np
import pytest

from facevid_datasets.training import BalancedSampler, ClipDataset, population_shares
from facevid_datasets.training.plan import Draw


def records(sizes: dict[str, int], seed: int = 0, column: str = "source",
            seconds: dict[str, tuple[float, float]] | None = None, fps: float = 25.0) -> list[dict]:
    """Plain records; group g has sizes[g] clips of seconds[g] = (low, high) seconds (default: longer per group)."""
    rng = np.random.default_rng(seed)
    out = []
    for gi, (g, n) in enumerate(sizes.items()):
        lo, hi = (seconds or {}).get(g, (2.0 * (1 + gi), 8.0 * (1 + gi)))
        for i in range(n):
            frames = max(1, int(rng.uniform(lo, hi) * fps))
            rec = {"clip_id": f"{g}-{i}", "video": {"path": f"/nonexistent/{g}{i}.mp4", "bytes": None},
                   "fps": fps, "num_frames": frames, "duration": frames / fps, "source": "s",
                   "attributes": {"ethnicity": None}}
            if column == "source":
                rec["source"] = g
            else:
                rec["attributes"] = {"ethnicity": g}
            out.append(rec)
    return out


def delivered_by_group(ds: ClipDataset, sampler: BalancedSampler, draws: list[Draw]) -> dict[str, float]:
    """Seconds of real video in the planned windows (valid frames / output fps), measured on the plans."""
    out: dict[str, float] = {}
    for d in draws:
        plan = ds[d]
        g = sampler.group_of(d.row)
        out[g] = out.get(g, 0.0) + float(plan.valid.sum()) / plan.fps
    return out


def shares(secs: dict[str, float]) -> dict[str, float]:
    total = sum(secs.values())
    return {g: v / total for g, v in secs.items()}


#: 3-s clips against 30-s clips, and hours that differ 10-fold; some "short" clips are shorter than a window
MIXED = {"short": 600, "long": 200, "tiny": 40}
MIXED_SECONDS = {"short": (0.3, 3.0), "long": (28.0, 30.0), "tiny": (3.0, 5.0)}


def test_equal_mode_balances_delivered_seconds_3s_vs_30s_clips():
    ds = ClipDataset(records(MIXED, seconds=MIXED_SECONDS), frames=16, fps=25)
    s = BalancedSampler(ds, "source", "equal", seed=3)
    got = shares(delivered_by_group(ds, s, list(s)))
    for g, v in got.items():
        assert abs(v - 1 / 3) < 0.02 * (1 / 3), (g, got)
    # the sampler's own report agrees with the plans, and says what each group got
    rep = {r.group: r for r in s.report(whole_epoch=True)}
    assert all(abs(rep[g].share - got[g]) < 1e-9 for g in got)
    assert rep["tiny"].clips == 40 and rep["tiny"].target == pytest.approx(1 / 3)
    # the old rule (equal stored seconds of the clips drawn, one window per draw) overfeeds the short
    # group several times over: the measurement above tells the two apart
    dur, per_window = ds.durations(), s.delivered
    old = {}
    for g in MIXED:
        rows = [i for i in range(len(ds)) if s.group_of(i) == g]
        old[g] = 1000.0 / dur[rows].mean() * per_window[rows].mean()  # draws for 1000 stored s x seconds each
    assert shares(old)["short"] > 0.6 and shares(old)["long"] < 0.05


def test_population_mode_delivered_seconds_follow_the_table():
    ds = ClipDataset(records(MIXED, seconds=MIXED_SECONDS), frames=16, fps=25)
    table = {"short": 1, "long": 3, "tiny": 6}
    s = BalancedSampler(ds, "source", "population", table=table, seed=1)
    got = shares(delivered_by_group(ds, s, list(s)))
    for g, share in population_shares(table).items():
        assert abs(got[g] - share) < 0.02 * share, (g, got)


def test_population_mode_on_nested_column_with_the_shipped_table():
    table = population_shares("ethnicity")
    sizes = {g: 50 + 40 * i for i, g in enumerate(table)}
    ds = ClipDataset(records(sizes, column="attributes.ethnicity"), frames=8)
    s = BalancedSampler(ds, "attributes.ethnicity", "population", seed=0, epoch_seconds=20_000)
    got = shares(delivered_by_group(ds, s, list(s)))
    for g, share in table.items():
        assert abs(got[g] - share) < 0.02 * share + 0.001, (g, got[g], share)
    from facevid_datasets.training import population_tables

    t = population_tables()["ethnicity"]
    assert "World Population Prospects" in t["source"] and t["year"] == 2022


def test_draw_counts_follow_usable_duration_inside_a_group():
    recs = records({"a": 30, "b": 200}, seconds={"a": (1.0, 30.0), "b": (5.0, 6.0)})
    ds = ClipDataset(recs, frames=16, fps=25)
    s = BalancedSampler(ds, "source", "equal", seed=0, epoch_seconds=4000)
    visits = Counter(d.row for d in s)
    fps, frames = ds.timing()
    positions = ds.spec.start_positions(frames, fps).astype(float)
    rows = [i for i in range(len(ds)) if s.group_of(i) == "a"]
    n = sum(visits[r] for r in rows)
    expected = n * positions[rows] / positions[rows].sum()
    got = np.array([visits[r] for r in rows])
    assert np.all(np.abs(got - expected) < 1.0), (got, expected)  # floor or ceiling of the expectation
    assert np.corrcoef(got, positions[rows])[0, 1] > 0.99
    # natural mode: every stored second equally likely across the whole data
    nat = BalancedSampler(ds, "source", "natural", seed=0)
    assert nat.shares == {} and {r.group for r in nat.report(whole_epoch=True)} == {"a", "b"}
    nv = Counter(d.row for d in nat)
    assert all(abs(nv[r] - e) < 1.0 for r, e in zip(range(len(ds)), len(nat) * positions / positions.sum(),
                                                       strict=True))


def test_whole_clip_items_deliver_their_duration():
    recs = records({"a": 100, "b": 10}, seconds={"a": (2.0, 4.0), "b": (20.0, 30.0)})
    s = BalancedSampler(recs, "source", "equal", seed=0, epoch_seconds=3000)
    assert s.whole_clips
    secs: dict[str, float] = {}
    for d in s:
        secs[s.group_of(d.row)] = secs.get(s.group_of(d.row), 0.0) + recs[d.row]["duration"]
    assert abs(shares(secs)["b"] - 0.5) < 0.02
    nat = BalancedSampler(recs, "source", "natural", seed=0)
    assert sorted(d.row for d in nat) == list(range(len(recs)))  # whole clips, natural: each clip once


def test_group_without_clips_is_an_error_naming_it():
    ds = ClipDataset(records({"a": 10, "b": 10}))
    with pytest.raises(ValueError, match="'zz'"):
        BalancedSampler(ds, "source", "weights", weights={"a": 1, "zz": 1})
    with pytest.raises(ValueError, match="Latino"):
        BalancedSampler(ClipDataset(records({"Asian": 5, "White": 5}, column="attributes.ethnicity")),
                        "attributes.ethnicity", "population")
    with pytest.raises(TypeError, match="StreamingClipDataset"):
        BalancedSampler(datasets.IterableDataset.from_generator(lambda: iter([])), "source")


def test_ranks_disjoint_within_each_step_and_cover_the_epoch():
    ds = ClipDataset(records({"big": 500, "small": 12}), frames=8)
    world, bs = 3, 4
    per_rank = [list(BalancedSampler(ds, "source", "equal", seed=7, batch_size=bs, rank=r, world_size=world))
                for r in range(world)]
    assert len({len(p) for p in per_rank}) == 1
    full = BalancedSampler(ds, "source", "equal", seed=7, batch_size=bs, rank=0, world_size=world)._order()
    got = Counter(d.key for p in per_rank for d in p)
    assert set(got) == set(range(len(full)))  # every window of the epoch, padding aside
    for step in range(len(per_rank[0]) // bs):
        rows = [d.row for p in per_rank for d in p[step * bs : (step + 1) * bs]]
        assert len(rows) == len(set(rows)), f"a clip is twice in step {step}"


def test_a_group_too_small_for_the_step_is_reported_once_with_numbers():
    ds = ClipDataset(records({"big": 300, "small": 3}), frames=8)
    s = BalancedSampler(ds, "source", "equal", seed=1, batch_size=4, rank=0, world_size=2)
    with pytest.warns(UserWarning, match=r"group 'small' has 3 clips but gets 4\.0 of the 8 visits"):
        list(s)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s.set_epoch(1)
        list(s)  # said once


def consume(samplers: list[BalancedSampler], steps: int) -> list[Draw]:
    """Run `steps` steps on every rank (the trainer marks each batch consumed); the draws used."""
    used = []
    its = [iter(s) for s in samplers]
    for _ in range(steps):
        for s, it in zip(samplers, its, strict=True):
            batch = [next(it) for _ in range(s.batch_size)]
            s.mark_consumed([d.position for d in batch])
            used += batch
    return used


@pytest.mark.filterwarnings("ignore:.*repeat a clip")  # group c (7 clips) is too small for 18 a step
def test_elastic_resume_two_ranks_to_three_covers_the_epoch_exactly():
    ds = ClipDataset(records({"a": 300, "b": 40, "c": 7}), frames=8)

    def make(rank: int, world: int, bs: int) -> BalancedSampler:
        s = BalancedSampler(ds, "source", "equal", seed=5, batch_size=bs, rank=rank, world_size=world)
        s.set_epoch(2)
        return s

    whole = make(0, 1, 1)._order()
    first = [make(r, 2, 4) for r in range(2)]
    before = consume(first, 7)
    state = first[0].state_dict()
    assert state["sample_in_epoch"] == 7 * 2 * 4 == first[1].state_dict()["sample_in_epoch"]
    mid = first[0].report()
    assert sum(r.windows for r in mid) == 56
    after = []
    second = []
    for r in range(3):
        s = make(r, 3, 6)  # another world size and batch size
        s.load_state_dict(state)
        s.set_epoch(2)  # the training loop's set_epoch keeps the resume point of that epoch
        second.append(s)
        mine = list(s)
        s.mark_consumed([mine[-1].position])  # this rank's last window used: its share of the epoch is done
        after += mine
    n = len(whole)
    keys = Counter(d.key for d in before + after)
    assert set(keys) == set(range(n)) and all(c == 1 for k, c in keys.items() if k >= 56 + 6)  # padding aside
    assert sum(keys.values()) - n < 3 * 6  # only the last step's padding repeats
    assert all(d.row == whole[d.key] for d in before + after)
    # the same windows as an uninterrupted run: a draw's random start depends on its global index only
    for d in after[:5]:
        assert ds[d].indices.tolist() == ds[Draw(int(whole[d.key]), 2, 0, d.key)].indices.tolist()
    # the report counts the whole epoch across the resume
    full = {r.group: r for r in second[0].report()}
    planned = {r.group: r for r in second[0].report(whole_epoch=True)}
    assert {g: r.windows for g, r in full.items()} == {g: r.windows for g, r in planned.items()}
    resumed = make(0, 4, 2)
    resumed.set_epoch(3)
    with pytest.raises(ValueError, match="windows_per_visit"):
        BalancedSampler(ds, "source", seed=5, windows_per_visit=2, batch_size=4).load_state_dict(state)
    with pytest.raises(ValueError, match="global position"):
        make(0, 2, 4).load_state_dict({"epoch": 0, "consumed": 3, "seed": 5})


def test_resume_mid_epoch_equals_uninterrupted_run_with_workers_reading_ahead():
    ds = ClipDataset(records({"a": 200, "b": 20}), frames=8)

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
    assert state["consumed"] == 32 and state["epoch"] == 2 and state["sample_in_epoch"] == 64
    resumed = make()
    resumed.load_state_dict(state)
    resumed.set_epoch(2)
    rest = list(resumed)
    assert [(d.row, d.key) for d in seen[:32] + rest] == [(d.row, d.key) for d in uninterrupted]
    resumed.set_epoch(3)
    assert len(list(resumed)) == len(resumed) == len(uninterrupted)  # the next epoch starts from 0


def test_windows_per_visit_keeps_a_visits_windows_together_on_one_rank():
    ds = ClipDataset(records({"a": 100, "b": 10}), frames=8)
    per_rank = [list(BalancedSampler(ds, "source", "equal", seed=2, batch_size=8, rank=r, world_size=2,
                                     windows_per_visit=4)) for r in range(2)]
    for draws in per_rank:
        for v in range(0, len(draws), 4):
            visit = draws[v : v + 4]
            assert len({d.row for d in visit}) == 1 and len({d.key for d in visit}) == 4
            assert [d.position for d in visit] == list(range(visit[0].position, visit[0].position + 4))
            starts = {int(ds[d].indices[0]) for d in visit}
            assert len(starts) > 1  # independent random starts
    # balance counts every window
    s = BalancedSampler(ds, "source", "equal", seed=2, windows_per_visit=4, batch_size=4)
    got = shares(delivered_by_group(ds, s, list(s)))
    assert abs(got["b"] - 0.5) < 0.02
    with pytest.raises(ValueError, match="multiple of windows_per_visit"):
        BalancedSampler(ds, "source", windows_per_visit=3, batch_size=4)


def test_replacement_row_stays_in_the_group_and_follows_window_positions():
    recs = records({"a": 3, "b": 1}, seconds={"a": (1.0, 1.0), "b": (5.0, 5.0)})
    recs[1]["num_frames"], recs[1]["duration"] = 500, 20.0  # a long clip of group a
    ds = ClipDataset(recs, frames=8)
    s = BalancedSampler(ds, "source", "equal", seed=0)
    rng = np.random.default_rng(0)
    picks = Counter(s.replacement_row(0, rng) for _ in range(2000))
    assert set(picks) == {1, 2}  # same group, never the failed row itself
    assert picks[1] > 10 * picks[2]  # by window positions: the 20-s clip offers far more
    assert s.replacement_row(3, rng) == 3  # a group of one clip has nothing else
    assert s.group_of(s.replacement_row(2, rng)) == "a"


def test_excluded_ids_where_and_filter_are_never_planned_and_say_why():
    recs = records({"a": 40, "b": 40})
    for i, r in enumerate(recs):
        r["audio_source"] = "none" if i % 4 == 0 else "video"
    ds = ClipDataset(recs, frames=8)
    s = BalancedSampler(ds, "source", "equal", seed=0, exclude_ids=["a-1", "b-2"],
                        where={"audio_source": ["video", "file"]}, filter=lambda r: r["clip_id"] != "a-3")
    rows = {d.row for d in s}
    ids = {recs[r]["clip_id"] for r in rows}
    assert not ids & {"a-1", "b-2", "a-3"} and all(recs[r]["audio_source"] == "video" for r in rows)
    reasons = dict(s.dropped)
    assert reasons["a-1"] == "excluded by id" and reasons["a-3"] == "filter returned False"
    assert "where" in reasons["a-0"] and len(s.dropped) == 20 + 3
    with pytest.raises(ValueError, match="not sampled"):
        s.replacement_row(1, np.random.default_rng(0))


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
    ds = ClipDataset(hf, frames=8)
    s = BalancedSampler(ds, "attributes.ethnicity", "equal", seed=0)
    got = shares(delivered_by_group(ds, s, list(s)))
    assert abs(got["x"] - 0.5) < 0.02


def test_num_samples_and_epoch_seconds_mean_windows_and_delivered_seconds():
    ds = ClipDataset(records({"a": 300, "b": 10}), frames=16, fps=25)
    s = BalancedSampler(ds, "source", "equal", num_samples=2000, seed=0)
    assert abs(len(s._order()) - 2000) <= 2  # each group's visit count is rounded
    got = delivered_by_group(ds, s, list(s))
    assert abs(got["a"] / sum(got.values()) - 0.5) < 0.02
    e = BalancedSampler(ds, "source", "equal", epoch_seconds=640.0, seed=0)
    assert abs(sum(r.seconds for r in e.report(whole_epoch=True)) - 640.0) < 2 * 0.64
    assert len(BalancedSampler(ds, "source", "natural", num_samples=500)._order()) == 500


def test_systematic_counts_and_spread_order_keep_visits_apart():
    from facevid_datasets.training.sampling.mixing import occurrence_links, spread_order, systematic_counts

    rng = np.random.default_rng(0)
    w = rng.uniform(0.1, 10.0, 500)
    counts = systematic_counts(w, 3000, rng)
    assert counts.sum() == 3000 and np.all(np.abs(counts - 3000 * w / w.sum()) < 1.0)
    # eight rows take half the epoch: even spacing 16 visits, so steps of 12 never repeat one
    counts = np.r_[np.full(8, 100), np.ones(800, dtype=np.int64)]
    order, prev, failed = spread_order(counts, 4096, rng)
    assert failed == 0 and Counter(order.tolist()) == {r: int(c) for r, c in enumerate(counts)}
    assert np.array_equal(prev, occurrence_links(order)[0])
    gaps = np.arange(len(order))[prev >= 0] - prev[prev >= 0]
    assert gaps.min() >= 12
    # and the order does not depend on anything but the counts and the generator
    again, _, _ = spread_order(counts, 4096, np.random.default_rng(5))
    assert np.array_equal(again, spread_order(counts, 4096, np.random.default_rng(5))[0])


def test_the_plain_distributed_sampler_way_still_works():
    from torch.utils.data import DataLoader, DistributedSampler

    ds = ClipDataset(records({"a": 10, "b": 5}), frames=8)
    rows = []
    for rank in range(2):
        sampler = DistributedSampler(ds, num_replicas=2, rank=rank, shuffle=True, seed=0)
        sampler.set_epoch(1)
        ds.set_epoch(1)
        rows += [p.row for batch in DataLoader(ds, batch_size=3, sampler=sampler, collate_fn=list) for p in batch]
    assert sorted(set(rows)) == list(range(len(ds)))


def test_sampler_pickles_light_for_workers_and_replans_the_same_order():
    import pickle

    ds = ClipDataset(records({"a": 200, "b": 20}), frames=8)
    s = BalancedSampler(ds, "source", "equal", seed=4)
    order = s.global_order(0)
    len(s)
    copy = pickle.loads(pickle.dumps(s))
    assert copy._cache is None and len(pickle.dumps(s)) < len(pickle.dumps(dict(s.__dict__))) - order.nbytes
    assert np.array_equal(copy._order(), order)
    assert copy.group_of(copy.replacement_row(0, np.random.default_rng(0))) == "a"
