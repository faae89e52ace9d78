"""A decode job that kills its worker process for files named *crash*: a decoder segfault stand-in."""
import os

from engine.tagger import _decode_job


def crash_on_name(path, spec, max_patches):
    if "crash" in os.path.basename(path):
        os._exit(139)
    return _decode_job(path, spec, max_patches)
