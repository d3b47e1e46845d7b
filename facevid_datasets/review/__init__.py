"""Review pages: see why every clip of a curation run was kept or dropped, and what a build left out.

`facevid review <curated folder or build cache> --out review/` (or `write_review`) writes a static
page, `index.html` plus small images beside it, that opens in any browser with no server and nothing
fetched from elsewhere: every decision with a strip of what was measured and the value against its
threshold, a what-if table per threshold, and for a build cache every report line with its file and
line, the clips and hours per source and the `facevid stats` plots.
"""

from .run import ReviewError, ReviewResult, RunKind, run_kind, write_review

__all__ = ["ReviewError", "ReviewResult", "RunKind", "run_kind", "write_review"]
