"""Carry a deletion request into every copy this package made of a clip, and keep an audit trail.

`forget(name, ids)` starts from the ledger of copies (`licence.ledger`: every file the package
wrote with the clip ids it holds, in `cache_dir` and in the default cache), walks the `datasets`
cache (or `cache_dir`) and any folders given in `extra_dirs` (copies made before the ledger, found
by content), and removes the listed clips (a listed source video covers all its clips) from:

- Arrow files of `datasets` build caches (this package's builders and plain `load_dataset` of an
  export): rewritten without the rows, `dataset_info.json` split sizes updated so the cache still
  loads without a rebuild; derived `cache-*.arrow` files (`map`/`filter` results) of a rewritten
  folder are deleted, since their rows or indices refer to the old table;
- WebDataset tar shards (samples matched by their json's `clip_id`, the tar rewritten without them)
  and LitData folders (read and rewritten with `litdata`);
- Parquet files with a `clip_id` column: exports (`data/<config>/<split>-*.parquet`, still loadable by
  plain `datasets.load_dataset`), `decisions.parquet` of a curation (segments by `parent_id` too),
  training copies' `records.parquet`; JSONL records (`records.jsonl`), CSV tables, TSV build reports;
- sqlite files (the probe cache, keyed by path): rows of a listed clip's file, then VACUUM so no
  freed page keeps them;
- files the ledger records as one clip's copy (cut clips, training copies and their done markers);
- files named after a listed clip (copies made before the ledger): training copies (`<stem>-<key>.mp4`),
  curation measurements (`<clip>-<key>.npz`), cut clips and keypoints, segments (`<clip>_s001.mp4`), clips cut by the
  builders, the Hub download of a release; and files a removed row pointed at inside these folders.

Rows are filtered by the `dataset` column where a table has one, so another dataset's clip with the
same id is left alone. Inside the shared `datasets` cache, files are removed by name, and tables
without a `dataset` column are rewritten, only in this package's folders (`facevid_*`, the builder's
own); other builders' folders are never touched. Files are rewritten with pyarrow, csv and sqlite3
(nothing is unpickled) into a temporary file that replaces the original. The release folder itself is touched only with
`delete_source=True` and `release_root`. Statistics folders (`summary.json` + PNGs) hold counts only:
they are listed as stale, to be recomputed with `facevid stats`.

A ledger entry of a kind this version cannot rewrite that holds a listed clip stops `forget`
before anything is changed (`ForgetRefused`, naming the file): a copy it cannot clean must not
be reported as clean. A torn ledger line (a writer killed mid-append) is reported as unchecked.
After a run the ledger is rewritten without the forgotten ids; `check=True` reads every copy back
with its own reader (rows, json members, LitData items) and changes nothing.

Audit log: one JSON line per listed id and run, appended to `<cache_dir>/facevid_forget/audit.jsonl`
(or `audit_log=`): the id, the UTC time, the dataset, the clip ids found and each file removed or
rewritten (path, sizes before and after, rows removed); never any content. The ids are also added
to `<cache_dir>/facevid_forget/<name>/deletions.txt`, which every later build with this cache
applies (`deletions.builder_deletions`), so a rebuild from the untouched release does not bring
them back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .. import cache_paths
from ..errors import FaceVidError
from .deletions import DeletionList, forgotten_list
from .ledger import WHOLE_FILE_KINDS, CopyEntry, CopyKind, forget_ids, ledger_path, read_ledger
from .scan import Change, CopyScan


class ForgetRefused(FaceVidError):
    """A recorded copy holds a listed clip but is of a kind `forget` cannot rewrite; nothing was changed."""


@dataclass
class ForgetResult:
    """What `forget` changed (or, with `check=True`, found), the list lines that were not ids (`problems`),
    the files that could not be read (`unchecked`: they may still hold a listed clip), the audit log."""

    name: str
    deletions: DeletionList
    changes: list[Change] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    audit_log: Path | None = None
    check: bool = False

    @property
    def present(self) -> list[Change]:
        """Copies still holding a listed clip (what `--check` reports)."""
        return [c for c in self.changes if c.action == "present"]

    def clips(self) -> dict[str, set[str]]:
        """Listed id -> clip ids found under it."""
        out: dict[str, set[str]] = {i: set() for i in self.deletions.ids}
        for c in self.changes:
            for ident, cids in c.hits.items():
                out.setdefault(ident, set()).update(cids)
        return out

    def summary(self) -> str:
        acted = [c for c in self.changes if c.action in ("removed", "rewritten")]
        if self.check:
            head = (
                f"{self.name}: {len(self.present)} copies still hold listed clips"
                if self.present
                else (f"{self.name}: no copy of the {len(self.deletions)} listed ids found")
            )
        else:
            rows = sum(c.rows for c in acted)
            head = (f"{self.name}: {len(self.deletions)} listed ids; {sum(c.action == 'removed' for c in acted)} files "
                    f"removed, {sum(c.action == 'rewritten' for c in acted)} rewritten ({rows} rows)")  # fmt: skip
        lines = [head]
        lines += [f"  {c.action:9s} {c.path} ({c.rows} rows)" if c.rows else f"  {c.action:9s} {c.path}"
                  for c in self.changes]  # fmt: skip
        lines += [f"  not an id: {p}" for p in self.problems]
        lines += [f"  unchecked: {p}" for p in self.unchecked]
        if self.audit_log is not None and not self.check:
            lines.append(f"audit log: {self.audit_log}")
        return "\n".join(lines)


def default_cache_dir() -> Path:
    """The `datasets` cache this package's builders use when no `cache_dir` is given."""
    return cache_paths.default_cache_dir()


def recorded_copies(name: str, deletions: DeletionList, caches: list[Path]) -> tuple[list[CopyEntry], list[str]]:
    """Ledger entries (of `caches`' ledgers) of dataset `name` that hold a listed clip and still exist, and
    one line per torn ledger line. Raises ForgetRefused for an entry of a kind `forget` cannot rewrite."""
    entries: list[CopyEntry] = []
    torn: list[str] = []
    for cache in dict.fromkeys(c.resolve() for c in caches):
        ledger = read_ledger(cache)
        torn += [f"{ledger.path}:{n}: torn ledger line; a copy recorded there may be missed (name its folder "
                 f"with --also)" for n in ledger.torn]  # fmt: skip
        for e in ledger.entries:
            if e.dataset not in (None, name) or not any(deletions.match(i) is not None for i in e.ids):
                continue
            if not e.path.exists():
                continue
            if not e.known:
                raise ForgetRefused(
                    f"{e.path}: holds listed clips but is a {e.kind!r} copy (ledger {ledger.path}:{e.line}), a kind "
                    f"forget cannot rewrite; nothing was changed. Delete it or rewrite it by hand, then run again."
                )
            entries.append(e)
    return entries, torn


def default_audit_log(cache_dir: str | Path | None = None) -> Path:
    """Where `forget` appends its audit lines: `<cache_dir>/facevid_forget/audit.jsonl`."""
    return cache_paths.audit_log(cache_dir or default_cache_dir())


# -- the entry point ------------------------------------------------------------------------------------


def forget(
    name: str,
    ids: DeletionList | str | Path | Iterable[str],
    *,
    cache_dir: str | Path | None = None,
    extra_dirs: Iterable[str | Path] = (),
    delete_source: bool = False,
    release_root: str | Path | None = None,
    check: bool = False,
    audit_log: str | Path | None = None,
) -> ForgetResult:
    """Remove the listed clips of dataset `name` from every copy this package made (see the module docstring).

    `ids`: a DeletionList, a list file, or ids. `cache_dir`: the `datasets` cache used for builds
    (default: HF_DATASETS_CACHE). `extra_dirs`: curated folders, training copies, exports, anything
    else to clean. `delete_source=True` with `release_root` also deletes the clips from the release
    folder itself (metadata rows, videos, side files). `check=True` changes nothing and reports
    every copy still present.
    """
    from ..builders import builder_class, names

    name = builder_class(name).NAME  # a clear KeyError for an unknown dataset
    deletions = DeletionList.of(ids).bound(name)  # which clips an id covers is the dataset's own rule
    if delete_source and release_root is None:
        raise ValueError("forget: delete_source=True needs release_root (the release folder to delete from)")
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    log = Path(audit_log) if audit_log is not None else default_audit_log(cache)
    roots = [cache, *(Path(d) for d in extra_dirs)]
    fenced: list[Path] = []
    if release_root is not None:
        if delete_source or check:
            roots.append(Path(release_root))
        else:
            fenced.append(Path(release_root))
    roots = [r for r in roots if r.exists()]
    ledgers = [cache, default_cache_dir()]
    entries, torn = recorded_copies(name, deletions, ledgers) if deletions else ([], [])
    whole: dict[Path, dict[str, set[str]]] = {}
    for e in entries:
        if e.kind in WHOLE_FILE_KINDS and e.path.is_file():
            hits: dict[str, set[str]] = {}
            for i in e.ids:
                hit = deletions.match(i)
                if hit is not None:
                    hits.setdefault(hit, set()).add(i)
            whole[e.path] = hits
        roots.append(e.path.parent if e.kind == CopyKind.LITDATA else e.path)

    for other in names():  # another builder's cache, cut clips and reports are not this dataset's copies
        if other != name:
            dn = other.replace("-", "_")
            fenced += [cache / dn, cache_paths.clips_root(cache, dn), cache_paths.reports_root(cache, dn)]
    protected = {log, *(Path(s) for s in deletions.sources if not s.startswith("<")),
                 *(ledger_path(c) for c in (cache, default_cache_dir()))}  # fmt: skip
    result = ForgetResult(name, deletions, audit_log=log, check=check)
    result.problems += deletions.problems
    if not deletions:
        return result
    scan = CopyScan(name, deletions, roots, protected, fenced, check, cache=cache)
    scan.whole = whole
    scan.run()
    result.changes, result.unchecked = scan.changes, [*torn, *scan.problems]
    if not check:
        _append_audit(log, name, result)
        _remember(forgotten_list(cache, name), deletions)
        for c in dict.fromkeys(p.resolve() for p in ledgers):
            found = {i for e in read_ledger(c).entries for i in e.ids if deletions.match(i) is not None}
            forget_ids(c, found, dataset=name, unchecked=result.unchecked)
    return result


def _remember(path: Path, deletions: DeletionList) -> None:
    """Add the ids to the cache's own list of forgotten clips, which later builds with this cache apply."""
    known = DeletionList.from_file(path).ids if path.is_file() else {}
    new = [i for i in deletions.ids if i not in known]
    if not new:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    head = "" if path.is_file() else "# clips removed by `facevid forget`; builds with this cache withhold them\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(head + "".join(f"{i}\n" for i in new))


def _append_audit(log: Path, name: str, result: ForgetResult) -> None:
    """One JSON line per listed id: when, what was found, which files were removed or rewritten."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    log.parent.mkdir(parents=True, exist_ok=True)
    found = result.clips()
    with open(log, "a", encoding="utf-8") as f:
        for ident, origin in result.deletions.ids.items():
            files = [c.audit() for c in result.changes if ident in c.hits]
            clips = sorted(found.get(ident, ()))
            matched = "none found" if not clips else "clip" if clips == [ident] else "source video"
            entry = {"id": ident, "time": now, "dataset": name, "list": origin, "matched": matched,
                     "clips": clips, "files": files}  # fmt: skip
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")


__all__ = ["Change", "ForgetRefused", "ForgetResult", "default_audit_log", "default_cache_dir", "forget",
           "recorded_copies"]
