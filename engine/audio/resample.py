"""Sample-rate conversion by name, so a FeatureSpec can say exactly which filter it was trained with."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import ParameterError


def _soxr_hq(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    import soxr

    return soxr.resample(y, orig_sr, target_sr, quality="HQ")


def _kaiser_best(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    from .kaiser import resample_kaiser_best

    return resample_kaiser_best(y, orig_sr, target_sr)


#: name -> function(y, orig_sr, target_sr). "soxr_hq" is librosa's default (the seed spec);
#: "kaiser_best" reproduces resampy 0.2's filter (the musicnn models were trained with it).
RESAMPLERS: dict[str, Callable[[np.ndarray, int, int], np.ndarray]] = {
    "soxr_hq": _soxr_hq,
    "kaiser_best": _kaiser_best,
}


def resample(y: np.ndarray, orig_sr: int, target_sr: int, method: str = "soxr_hq") -> np.ndarray:
    """Resample mono float32 ``y`` from ``orig_sr`` to ``target_sr`` Hz with filter ``method``."""
    if orig_sr == target_sr:
        return np.ascontiguousarray(y, dtype=np.float32)
    try:
        fn = RESAMPLERS[method]
    except KeyError:
        raise ParameterError(f"unknown resampler {method!r}; known: {sorted(RESAMPLERS)}") from None
    return np.ascontiguousarray(fn(np.ascontiguousarray(y, dtype=np.float32), orig_sr, target_sr),
                                dtype=np.float32)
