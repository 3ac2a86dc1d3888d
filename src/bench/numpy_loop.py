"""The anchor of the aggregator figures: a plain numpy loop over the same .npy files.

Usage: python3 numpy_loop.py float32|uint32 < list-of-files
       python3 numpy_loop.py mask <length> <count>

float32 (plain deltas): per file, read it whole, sha256 it, view the values in place,
check they are all finite, add them to a float64 sum; finally write the mean as a
float32 .npy (to a temporary file, removed). uint32 (masked secure-aggregation
inputs): read, sha256, add into a uint32 sum (wrapping mod 2^32). Only the loop is
timed (the file list comes on stdin). mask: the secure round's mask expansion,
`count` times: AES-256-CTR keystream (zero IV) of a fresh 32-byte seed read as
`length` little-endian uint32 words and added into a uint32 vector (needs the
`cryptography` package). Prints one JSON line: files (or masks), bytes, ms.
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


def masks(length: int, count: int) -> None:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    zeros = bytes(length * 4)
    acc = np.zeros(length, dtype=np.uint32)
    started = time.perf_counter()
    for _ in range(count):
        stream = Cipher(algorithms.AES(os.urandom(32)), modes.CTR(bytes(16))).encryptor().update(zeros)
        np.add(acc, np.frombuffer(stream, dtype='<u4'), out=acc)
    ms = (time.perf_counter() - started) * 1000
    print(json.dumps({'files': count, 'bytes': count * length * 4, 'ms': round(ms, 1), 'numpy': np.__version__}))


def main() -> None:
    kind = sys.argv[1]
    if kind == 'mask':
        masks(int(sys.argv[2]), int(sys.argv[3]))
        return
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
