"""The batched tagger: files in, per-track tag scores and embeddings out.

Decoding runs in a pool of worker processes (no torch there) while the main process turns
waveforms into log-mel batches and runs the model on the inference device, so decoding and
inference overlap. A file that fails yields a :class:`TrackFailure` with a typed error; a
decoder that crashes its process is isolated and reported for that file alone.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
from collections import deque
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

import numpy as np

from .audio.excerpts import DecodedTrack, Segment, decode_for_spec, pad_wave, patch_starts, short_warning
from .bundle import DEFAULT_MODEL, BundleInfo, load_bundle
from .errors import AudioError, DecoderCrashError, DeviceError, ModelError
from .features import FeatureSpec, LogMel
from .types import CancelFn, ProgressFn
from .vocab import TagInfo


#: The quick analysis: library scans analyse at most this many patches spread over each track
#: (patch models only). For musicnn-msd on 4-minute tracks this keeps the mean score within
#: 0.0033 of the full analysis (top-5 tags 92% the same over 15 tracks,
#: ``python benchmarks/bench_musicnn.py``) at a sixth of the cost; ``max_patches=None`` analyses all.
QUICK_ANALYSIS_PATCHES = 8


@dataclass
class TrackTags:
    path: str
    scores: np.ndarray            # [n_tags] float32 probabilities, in the bundle's tag order
    embedding: np.ndarray         # [embedding_dim] float32, mean of the patches' penultimate activations
    duration_s: float
    n_patches: int
    model: str
    warnings: list[str] = field(default_factory=list)
    #: the other models' results for the same track, when the tagger runs several models
    companions: list["TrackTags"] = field(default_factory=list)

    ok = True

    @property
    def by_model(self) -> list["TrackTags"]:
        """This result and its companions: one per model, the primary model first."""
        return [self, *self.companions]

    def top(self, tags: Sequence[TagInfo], n: int = 5) -> list[tuple[TagInfo, float]]:
        order = np.argsort(-self.scores)[:n]
        return [(tags[i], float(self.scores[i])) for i in order]


@dataclass
class TrackFailure:
    path: str
    error: AudioError
    ok = False


TagResult = TrackTags | TrackFailure


def pick_device(requested: str | None = None) -> str:
    """``requested`` if given (e.g. "cpu", "cuda", "cuda:1"), else CUDA when present, else CPU
    (``None`` or ``"auto"``). The environment variable TAGATLAS_DEVICE overrides the automatic
    choice. Raises :class:`~engine.errors.DeviceError` when the device asked for is not there."""
    import torch

    source = ""
    if requested in (None, "", "auto"):
        requested = os.environ.get("TAGATLAS_DEVICE") or None
        source = " (from TAGATLAS_DEVICE)"
    if requested and requested != "auto":
        try:
            dev = torch.device(requested)
        except (RuntimeError, ValueError):
            raise DeviceError(f"{requested!r}{source} is not a device; use cpu, cuda, or cuda:N "
                              "for the GPU numbered N") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise DeviceError(f"the device {requested!r}{source} needs an NVIDIA GPU with CUDA, and "
                              "none is available on this machine; use --device cpu")
        if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
            n = torch.cuda.device_count()
            raise DeviceError(f"the device {requested!r}{source} does not exist: this machine has "
                              f"{n} GPU{'s' if n != 1 else ''} (cuda:0 to cuda:{n - 1})")
        if dev.type == "mps" and not torch.backends.mps.is_available():
            raise DeviceError(f"the device {requested!r}{source} needs Apple's Metal (MPS), and it "
                              "is not available on this machine; use --device cpu")
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def describe_device(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        idx = torch.device(device).index or 0
        return f"{torch.cuda.get_device_name(idx)} (CUDA)"
    return f"CPU ({os.cpu_count()} cores)"


# --- worker side --------------------------------------------------------------------------
def _worker_init() -> None:
    quiet_stderr()


def quiet_stderr() -> None:
    """For decoding worker processes: libmpg123 and FFmpeg print notes on stderr for damaged
    files; the typed error we return says it in words, so keep the user's terminal clean."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        pass


def _decode_job(path: str, spec: FeatureSpec, max_patches: int | None):
    try:
        return decode_for_spec(path, spec, max_patches)
    except AudioError as exc:
        return exc
    except MemoryError:
        return AudioError(path, "not enough memory to decode this file")
    except Exception as exc:  # noqa: BLE001 - a decoder bug must become this file's error, not the batch's
        return AudioError(path, f"unexpected decoder failure: {type(exc).__name__}: {exc}")


class _Cancelled(Exception):
    """Raised inside inference when the caller's cancel() turned true (never escapes iter_tag)."""


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def default_batch_size(spec: FeatureSpec, cuda: bool) -> int:
    """Patches per forward pass.

    On CUDA, large batches keep the GPU busy. On CPU, patch models (musicnn, vgg) are fastest
    with tiny batches: their widest activations are ~9 MB per 3-s patch, and two patches keep
    them in the L3 cache, so a 4-minute track takes 1.64 s at batch 2 against 2.00 s at batch 32
    (``python benchmarks/bench_musicnn.py --batch N``, 2 cores). The seed models take one 29-s excerpt per
    track and are fastest around 8.
    """
    if spec.excerpt == "centre":
        return 64 if cuda else 8
    return 256 if cuda else 2


@dataclass
class ModelHead:
    """One model a :class:`Tagger` runs: the network, its bundle and its front end."""

    model: object
    info: BundleInfo
    logmel: LogMel

    @property
    def spec(self) -> FeatureSpec:
        return self.info.feature_spec


def _load(model, device: str):
    if isinstance(model, tuple):
        net, info = model
        return net.to(device).eval(), info
    return load_bundle(model, device)


def model_filterbank(model):
    """The mel filterbank a model brings with its weights (buffer ``mel_filterbank``), or None."""
    return getattr(model, "mel_filterbank", None)


def check_compatible(primary: BundleInfo, other: BundleInfo) -> None:
    """Raise :class:`ModelError` unless ``other`` can run on ``primary``'s decoded audio."""
    a, b = primary.feature_spec, other.feature_spec
    if a.excerpt != "patches" or b.excerpt != "patches":
        raise ModelError(f"models {primary.name!r} and {other.name!r} cannot share one decode: "
                         f"only models that tile the track with patches can")
    if a.sample_rate != b.sample_rate:
        raise ModelError(f"models {primary.name!r} ({a.sample_rate} Hz) and {other.name!r} "
                         f"({b.sample_rate} Hz) cannot share one decode")


class Tagger:
    """Tag audio files with one model bundle, or several on one decode.

    ``model``: a bundle name (``"musicnn-msd"``), a path to a bundle, ``(model, BundleInfo)``, or
    a list of those: the first decides what is decoded, and the others (which must tile the
    track with patches at the same sample rate, see :func:`check_compatible`) run on the same
    audio and share its STFT where their front ends allow. ``workers``: decode processes (0 decodes
    in this process). ``max_patches``: for patch models, analyse at most this many patches spread
    over each track (None: all, as the original).
    """

    def __init__(self, model=DEFAULT_MODEL, *, device: str | None = None, workers: int | None = None,
                 batch_size: int | None = None, max_patches: int | None = None) -> None:
        import torch

        self.device = pick_device(device)
        models = list(model) if isinstance(model, list) else [model]
        if not models:
            raise ModelError("no model to run")
        self.heads: list[ModelHead] = []
        for m in models:
            net, info = _load(m, self.device)
            if self.heads:
                check_compatible(self.heads[0].info, info)
            # channels-last is oneDNN's fast layout for 2-D convolutions (it leaves other weights alone)
            net = net.to(memory_format=torch.channels_last)
            logmel = LogMel(info.feature_spec, self.device, filterbank=model_filterbank(net))
            self.heads.append(ModelHead(net, info, logmel))
        self.model, self.info = self.heads[0].model, self.heads[0].info
        self.spec: FeatureSpec = self.info.feature_spec
        self.logmel = self.heads[0].logmel
        self.workers = default_workers() if workers is None else max(0, workers)
        cuda = self.device.startswith("cuda")
        if batch_size is None:
            batch_size = default_batch_size(self.spec, cuda)
        self.batch_size = batch_size
        self.max_patches = max_patches
        self._pool: cf.ProcessPoolExecutor | None = None
        self._torch = torch
        self._cancelled: CancelFn = lambda: False

    @property
    def infos(self) -> list[BundleInfo]:
        """The bundles of every model this tagger runs, the primary first."""
        return [h.info for h in self.heads]

    #: What a decode worker runs for one file (a module-level function, so it pickles).
    decode_job = staticmethod(_decode_job)

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.info.name

    @property
    def tags(self) -> list[TagInfo]:
        return self.info.tags

    def device_description(self) -> str:
        return describe_device(self.device)

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=mp.get_context("spawn"),
                                      initializer=_worker_init)

    def _kill_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        procs = list((getattr(pool, "_processes", None) or {}).values())
        writer = getattr(getattr(pool, "_result_queue", None), "_writer", None)  # (shutdown drops it)
        pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:  # stop decodes in flight now, not when they finish
            try:
                p.terminate()
            except (OSError, ValueError):   # already gone or closed
                pass
        # A worker stopped while sending back a result leaves half a message in the result pipe,
        # and the pool's manager thread would wait for the rest forever (hanging the program at
        # exit). Once the workers are gone, closing this process's copy of the pipe's writing end
        # turns that wait into end-of-file, which the pool handles as a broken pool.
        for p in procs:
            try:
                p.join(timeout=1.0)
                if p.is_alive():
                    p.kill()
                    p.join(timeout=1.0)
            except (OSError, ValueError, AssertionError):   # already gone, closed or not started
                pass
        if writer is not None and not any(p.is_alive() for p in procs):
            try:
                writer.close()
            except OSError:   # the pipe is already closed
                pass

    def close(self) -> None:
        self._kill_pool()

    def __enter__(self) -> "Tagger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - nothing may escape a finaliser
            pass

    # -- inference on decoded audio ---------------------------------------------------------------
    def patches(self, track: DecodedTrack) -> list:
        """Log-mel model inputs of one decoded track, one tensor per model:
        ``[n_patches, n_mels, input_frames]``.

        Models whose front ends share the STFT (same rate, window, hop, padding and power) share
        one power spectrogram; each applies its own mel filterbank and log compression. Every
        model sees the patches at the primary model's positions (an input longer than what is
        left of a segment is moved back to fit, or padded the spec's way when the segment is
        shorter than the input).
        """
        primary = self.spec
        if primary.excerpt == "centre":
            waves = np.stack([s.wave for s in track.segments])
            return [self.logmel(waves)]
        torch = self._torch
        out: list[list] = [[] for _ in self.heads]
        for seg in track.segments:
            powers: dict[tuple, object] = {}
            for k, head in enumerate(self.heads):
                key = head.logmel.stft_key
                if key not in powers:
                    powers[key] = head.logmel.power_spectrogram(seg.wave[None])
                mel = head.logmel.compress(head.logmel.mel_of_power(powers[key]))[0]
                frames = head.spec.input_frames
                n = mel.shape[-1]
                if n < frames:
                    reps = -(-frames // n)
                    mel = (mel.repeat(1, reps) if head.spec.short_audio == "repeat_pad" else
                           torch.nn.functional.pad(mel, (0, frames - n), value=float(mel.min())))
                    n = mel.shape[-1]
                for i in range(seg.n_patches):
                    a = min(seg.first_frame + i * primary.patch_hop_frames, n - frames)
                    out[k].append(mel[:, a:a + frames])
        return [torch.stack(x) for x in out]

    def run_model(self, x, head: int = 0):
        """Sigmoid scores and embeddings ``(np [n, n_tags], np [n, dim])`` of model ``head``
        for a batch of its inputs."""
        torch = self._torch
        with torch.inference_mode():
            logits, emb = self.heads[head].model.forward_with_embedding(x)
            return torch.sigmoid(logits).float().cpu().numpy(), emb.float().cpu().numpy()

    def model_inputs(self, tracks: list[DecodedTrack]):
        """Model inputs for ``tracks`` (one tensor per model) and how many belong to each track:
        ``([tensor, ...], counts)``."""
        torch = self._torch
        with torch.inference_mode():
            if self.spec.excerpt == "centre" and all(len(t.segments) == 1 for t in tracks):
                return [self.logmel(np.stack([t.segments[0].wave for t in tracks]))], [1] * len(tracks)
            per_track = [self.patches(t) for t in tracks]
            inputs = [torch.cat([p[k] for p in per_track]) for k in range(len(self.heads))]
            return inputs, [p[0].shape[0] for p in per_track]

    def infer(self, tracks: list[DecodedTrack]) -> list[TrackTags]:
        """Run every model over every patch of ``tracks`` in batches; aggregate per track.

        One result per track, of the primary model; the other models' results are in its
        ``companions``."""
        inputs, counts = self.model_inputs(tracks)
        per_head: list[list[TrackTags]] = []
        for k, head in enumerate(self.heads):
            probs, embs = [], []
            x = inputs[k]
            for a in range(0, x.shape[0], self.batch_size):
                if self._cancelled():
                    raise _Cancelled
                p, e = self.run_model(x[a:a + self.batch_size], k)
                probs.append(p)
                embs.append(e)
            prob, emb = np.concatenate(probs), np.concatenate(embs)
            results, a = [], 0
            for t, n in zip(tracks, counts):
                scores, embedding = head.model.aggregate(prob[a:a + n], emb[a:a + n])
                results.append(TrackTags(t.path, scores.astype(np.float32), embedding.astype(np.float32),
                                         t.duration_s, n, head.info.name, list(t.warnings)))
                a += n
            per_head.append(results)
        for i, primary in enumerate(per_head[0]):
            primary.companions = [results[i] for results in per_head[1:]]
        return per_head[0]

    def tag_waveform(self, wave: np.ndarray, *, path: str = "<waveform>") -> TrackTags:
        """Tag a mono float32 waveform already at ``spec.sample_rate`` (no file involved)."""
        spec = self.spec
        wave = np.asarray(wave, dtype=np.float32)
        dur = wave.size / spec.sample_rate
        warnings: list[str] = []
        if spec.excerpt == "centre":
            need = spec.excerpt_samples
            if wave.size < need:
                warnings.append(short_warning(dur, spec))
                wave = pad_wave(wave, need, spec.short_audio)
            a = (wave.size - need) // 2
            seg = Segment(wave[a:a + need], 0, 1)
        else:
            if spec.n_frames(wave.size) < spec.input_frames:
                warnings.append(short_warning(dur, spec))
                wave = pad_wave(wave, spec.excerpt_samples, spec.short_audio)
            seg = Segment(wave, 0, len(patch_starts(spec.n_frames(wave.size), spec, None)))
        return self.infer([DecodedTrack(path, dur, [seg], warnings)])[0]

    # -- files -------------------------------------------------------------------------------
    def iter_tag(self, paths: Iterable[str | os.PathLike], progress: ProgressFn | None = None,
                 cancel: CancelFn | None = None) -> Iterator[TagResult]:
        """Tag ``paths``; yields one result per file in completion order.

        ``progress(done, total, path)`` is called after each file; ``cancel()`` is checked
        between steps, and a cancelled run stops promptly (decodes in flight are killed).
        """
        paths = [os.fsdecode(p) for p in paths]
        cancelled = cancel or (lambda: False)
        self._cancelled = cancelled
        try:
            yield from self._iter_tag(paths, progress, cancelled)
        except _Cancelled:
            self._kill_pool()
        finally:
            self._cancelled = lambda: False

    def _iter_tag(self, paths: list[str], progress: ProgressFn | None,
                  cancelled: CancelFn) -> Iterator[TagResult]:
        total = len(paths)
        done = 0

        def report(result: TagResult) -> TagResult:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, total, result.path)
            return result

        ready: list[DecodedTrack] = []
        ready_patches = 0

        def flush() -> Iterator[TagResult]:
            nonlocal ready, ready_patches
            batch, ready, ready_patches = ready, [], 0
            if batch:
                for r in self.infer(batch):
                    yield report(r)

        def accept(outcome, path: str) -> Iterator[TagResult]:
            nonlocal ready_patches
            if isinstance(outcome, AudioError):
                yield report(TrackFailure(path, outcome))
                return
            ready.append(outcome)
            ready_patches += outcome.n_patches
            if ready_patches >= self.batch_size:
                yield from flush()

        if self.workers == 0:
            for path in paths:
                if cancelled():
                    return
                yield from accept(self.decode_job(path, self.spec, self.max_patches), path)
            yield from flush()
            return

        todo = deque(paths)
        suspects: deque[str] = deque()     # files in flight when a decoder process died
        in_flight: dict[cf.Future, str] = {}
        limit = self.workers * 2 + max(1, self.batch_size // 4)
        try:
            while todo or suspects or in_flight:
                if cancelled():
                    self._kill_pool()
                    return
                if self._pool is None:
                    self._pool = self._new_pool()
                # After a crash, suspects are decoded one at a time to find the culprit.
                isolating = bool(suspects)
                source = suspects if isolating else todo
                cap = 1 if isolating else limit
                while source and len(in_flight) < cap:
                    p = source.popleft()
                    in_flight[self._pool.submit(self.decode_job, p, self.spec, self.max_patches)] = p
                finished, _ = cf.wait(in_flight, timeout=0.2, return_when=cf.FIRST_COMPLETED)
                if not finished:
                    if ready and not todo and not suspects and len(in_flight) == 0:
                        yield from flush()
                    continue
                broken: list[str] = []
                for fut in finished:
                    path = in_flight.pop(fut)
                    try:
                        outcome = fut.result()
                    except cf.process.BrokenProcessPool:
                        broken.append(path)
                        continue
                    yield from accept(outcome, path)
                if broken:
                    broken += list(in_flight.values())
                    in_flight.clear()
                    self._kill_pool()
                    if isolating and len(broken) == 1:
                        yield report(TrackFailure(broken[0], DecoderCrashError(
                            broken[0], "the audio decoder crashed while reading this file "
                                       "(the file is probably damaged)")))
                    else:
                        suspects.extend(broken)
                if not in_flight and (not todo or ready_patches >= self.batch_size):
                    yield from flush()
            yield from flush()
        except GeneratorExit:
            self._kill_pool()
            raise

    def tag_files(self, paths: Iterable[str | os.PathLike], progress: ProgressFn | None = None,
                  cancel: CancelFn | None = None) -> list[TagResult]:
        """Like :meth:`iter_tag`, but returns the results in the order of ``paths``."""
        paths = [os.fsdecode(p) for p in paths]
        by_path: dict[str, list[TagResult]] = {}
        for r in self.iter_tag(paths, progress, cancel):
            by_path.setdefault(r.path, []).append(r)
        return [by_path[p].pop(0) for p in paths if by_path.get(p)]
