"""The anchor of the aggregator figures: a plain numpy loop over the same .npy files.

Usage: python3 numpy_loop.py float32|uint32 < list-of-files

float32 (plain deltas): per file, read it whole, sha256 it, view the values in place,
check they are all finite, add them to a float64 sum; finally write the mean as a
float32 .npy (to a temporary file, removed). uint32 (masked secure-aggregation
inputs): read, sha256, add into a uint32 sum (wrapping mod 2^32). Only the loop is
timed (the file list comes on stdin). Prints one JSON line: files, bytes, ms.
"""
import hashlib
import io
import json
import os
import sys
import tempfile
import time

import numpy as np


def values(buf: bytes, dtype: str) -> np.ndarray:
    stream = io.BytesIO(buf)
    major, _ = np.lib.format.read_magic(stream)
    read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    shape, _, _ = read_header(stream)
    return np.frombuffer(buf, dtype=dtype, offset=stream.tell()).reshape(shape)


def main() -> None:
    kind = sys.argv[1]
    files = [line.strip() for line in sys.stdin if line.strip()]
    dtype = '<f4' if kind == 'float32' else '<u4'
    started = time.perf_counter()
    total = None
    size = 0
    for name in files:
        with open(name, 'rb') as f:
            buf = f.read()
        size += len(buf)
        hashlib.sha256(buf).hexdigest()
        a = values(buf, dtype)
        if kind == 'float32':
            if not np.isfinite(a).all():
                raise SystemExit(f'{name}: not finite')
            if total is None:
                total = np.zeros(a.shape, dtype=np.float64)
            total += a
        else:
            if total is None:
                total = np.zeros(a.shape, dtype=np.uint32)
            np.add(total, a, out=total)
    if kind == 'float32' and total is not None:
        with tempfile.NamedTemporaryFile(suffix='.npy', delete=False) as out:
            np.save(out, (total / len(files)).astype(np.float32))
        os.remove(out.name)
    ms = (time.perf_counter() - started) * 1000
    print(json.dumps({'files': len(files), 'bytes': size, 'ms': round(ms, 1), 'numpy': np.__version__}))


main()
