"""Training suite for power users (``tagatlas-train``, see docs/training.md).

datasets/  readers: MagnaTagATune, MSD (Choi et al.'s split), CSV manifest, the user's library
prepare    decode once -> float16 log-mel shards + index (shards: the format)
data       Dataset/DataLoader over the shards (random patch crops, augmentation)
train      the training loop (``fit``): AMP, channels-last, DDP via torchrun, exact resume
evaluate   ROC-AUC / PR-AUC, thresholds, confidence intervals over runs, plots, report
export     a model bundle the app lists and runs
learn_my_tags  a head on frozen embeddings for the user's own genre/mood vocabulary

The training benchmark is a script in the source tree: ``python benchmarks/bench_training.py``.
"""
