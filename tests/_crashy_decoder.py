"""A decode job that kills its worker process for files named *crash*: a decoder segfault stand-in."""
import os

from engine.tagger import _decode_job


def crash_on_name(path, spec, max_patches):
    if "crash" in os.path.basename(path):
        os._exit(139)
    return _decode_job(path, spec, max_patches)


def huge_result(path, spec, max_patches):
    """A result so large that sending it back takes a while (a long track's samples)."""
    import numpy as np

    return np.ones(25_000_000, dtype=np.float32)
