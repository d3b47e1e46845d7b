"""Honouring the licences after the download: deletion requests and the terms shown where users work.

`deletions` reads deletion lists (the user's, a release's `deletions.txt`, the gated repo's) and
withholds listed clips from builds, loads and plans; `forget` removes them from every copy this
package made (`ledger` records every copy a writer makes with its clip ids, `scan` walks and reads
the copies, `files` rewrites tables), with an audit log; `terms` shows a gated dataset's licence
summary on the first build from a folder; `cli` is `facevid forget`. Imports run one way: cli ->
forget -> scan -> files, deletions, ledger; nothing here imports training code.
"""
