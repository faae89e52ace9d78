"""Similarity: "more like this", playlists and the 2-D map of the library.

Pure functions and classes on arrays (no database): embeddings (:mod:`.embeddings`), cosine
kNN (:mod:`.index`, exact; approximate on FAISS for large libraries, :mod:`.ann`), playlists
and M3U8 (:mod:`.playlist`),
the t-SNE layout and incremental placement (:mod:`.layout`), region labels (:mod:`.regions`)
and the PNG rendering (:mod:`.render`). :mod:`.store` connects them to the library database.
"""
from engine.similarity.ann import EXACT_BELOW, AnnIndex, AnnParams, AnnPolicy, faiss_available
from engine.similarity.embeddings import (DEFAULT_CENTER, DEFAULT_KIND, EMBEDDING_KINDS, embed,
                                          l2_normalize, library_center, transformed)
from engine.similarity.index import Neighbour, SimilarityIndex, knn
from engine.similarity.layout import (LayoutCancelled, LayoutParams, PlacementParams,
                                      compute_layout, place_new)
from engine.similarity.playlist import (M3U8Written, PlaylistEntry, format_m3u8, left_out_lines,
                                        path_playlist, playlist_paths_relative, render_m3u8,
                                        smooth_playlist, step_distances, write_m3u8)
from engine.similarity.regions import Region, label_regions

__all__ = [
    "EXACT_BELOW", "AnnIndex", "AnnParams", "AnnPolicy", "faiss_available",
    "DEFAULT_CENTER", "DEFAULT_KIND", "EMBEDDING_KINDS", "embed", "l2_normalize",
    "library_center", "transformed", "Neighbour", "SimilarityIndex", "knn",
    "LayoutCancelled", "LayoutParams", "PlacementParams", "compute_layout", "place_new",
    "M3U8Written", "PlaylistEntry", "format_m3u8", "left_out_lines", "render_m3u8",
    "path_playlist", "playlist_paths_relative",
    "smooth_playlist", "step_distances", "write_m3u8", "Region", "label_regions",
]
