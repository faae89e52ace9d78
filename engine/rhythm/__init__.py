"""Beats, downbeats, meter and tempo: BeatNet's pretrained network on our own features, decoded
by our own dynamic Bayesian network (see the modules)."""
from .analysis import QUICK_EXCERPT_S, RhythmAnalysis, analyse_rhythm
from .tempo import TempoEstimate, TempoRange

__all__ = ["QUICK_EXCERPT_S", "RhythmAnalysis", "TempoEstimate", "TempoRange", "analyse_rhythm"]
