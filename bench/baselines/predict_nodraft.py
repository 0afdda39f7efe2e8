"""Baseline for photos: digitcli's own `predict`, but every JPEG decoded at full size.

    python bench/baselines/predict_nodraft.py DIR --format jsonl   (any `digitcli predict` arguments)

This is the same process and code path as `digitcli predict …` (same CLI, worker processes,
preprocessing and network) with one change: JPEG draft decoding (`Image.draft`, which lets libjpeg
decode at 1/2, 1/4 or 1/8 size) is switched off, so the difference measures what drafting buys.

digitcli has no public switch for this yet, so the switch is made here: `preprocess.load_digits`
calls `open_gray(path, draft_size=DRAFT_SIZE)` through the `preprocess` module's global name, and
we replace that name with a version that always passes draft_size=None. Worker processes are
forked, so they inherit the change. The check below stops the benchmark (rather than measuring
the wrong thing) if the package no longer works that way.
"""

import functools
import sys

from digitcli import cli

from digitcli.vision import decode, preprocess

if "open_gray" not in preprocess.load_digits.__code__.co_names or preprocess.open_gray is not decode.open_gray:
    sys.exit("predict_nodraft: digitcli.vision.preprocess.load_digits no longer calls preprocess.open_gray; "
             "update this baseline to the package's draft switch")


@functools.wraps(decode.open_gray)
def open_gray_full_size(path, **kwargs):
    kwargs["draft_size"] = None
    return decode.open_gray(path, **kwargs)


preprocess.open_gray = open_gray_full_size
sys.argv = ["digitcli", "predict", *sys.argv[1:]]
cli.main()
