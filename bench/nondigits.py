"""How often non-digits are read as digits through `digitcli predict`, as a user meets them: files.

The first --count pictures of Fashion-MNIST's test split (Debian's dataset-fashion-mnist) are
written as PNG files and read with `python -m digitcli predict DIR --format jsonl`; a picture
counts as caught when it is called unsure or no digit is found in it. Run:

    python bench/nondigits.py --count 1000 --preprocess auto
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from real import predict_records  # noqa: E402  (the same run of digitcli as the real yardsticks)

FASHION = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--model", type=Path, help="model file (default: the bundled model)")
    parser.add_argument("--preprocess", choices=("auto", "choose"), default="auto")
    args = parser.parse_args()
    if not FASHION.exists():
        sys.exit(f"nondigits.py: {FASHION} is missing: apt-get install dataset-fashion-mnist")
    pictures = np.frombuffer(gzip.open(FASHION).read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with tempfile.TemporaryDirectory() as folder:
        for i, picture in enumerate(pictures[: args.count]):
            Image.fromarray(picture).save(Path(folder) / f"{i:05d}.png")
        records = predict_records(Path(folder), args.model, args.preprocess)
    status = Counter(r["status"] for r in records)
    read_as = Counter(r["digit"] for r in records if r["status"] == "ok")
    caught = status["unsure"] + status["error"]
    print(f"Fashion-MNIST test pictures 0-{args.count - 1} as PNGs, --preprocess {args.preprocess}: "
          f"{caught / len(records):.1%} caught ({status['unsure']} unsure, {status['error']} no digit), "
          f"{status['ok']} read as digits, most as {', '.join(f'{d} ×{n}' for d, n in read_as.most_common(3))}")


if __name__ == "__main__":
    main()
