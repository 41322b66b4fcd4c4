"""Writes Tests/CheckpointsTests/Fixtures/lzf.h5: one float32 dataset "w" of 4096 zeros, chunked and compressed with
h5py's own lzf filter (filter id 32000), which a plain libhdf5 (Debian's libhdf5, what gpt2lab links) cannot read.
LimitsTests checks the read error names the filter.

    python3 -m venv /tmp/h5 && /tmp/h5/bin/pip install h5py numpy && /tmp/h5/bin/python tests/reference/hdf5_lzf_fixture.py
"""
import os

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
path = os.path.join(HERE, "..", "..", "Tests", "CheckpointsTests", "Fixtures", "lzf.h5")
os.makedirs(os.path.dirname(path), exist_ok=True)
with h5py.File(path, "w") as f:
    f.create_dataset("w", data=np.zeros(4096, dtype=np.float32), chunks=(4096,), compression="lzf")   # compressible: lzf applies
print(path, os.path.getsize(path))
