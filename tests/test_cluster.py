"""Clustering: file vectors, k-means/HDBSCAN/agglomerative, labels, map, near-duplicates, CLI.

Quality runs the REAL all-MiniLM-L6-v2 on real files of this machine (tests/organize_corpus.py: Python
stdlib packages, Debian copyright files and changelogs, man pages of sections 2 and 5) and compares
V-measure / adjusted Rand index against a TF-IDF + k-means baseline on the same files and text.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score, v_measure_score

from mlx_embed.cli import main
from mlx_embed.organize import cluster, cluster_files, collect_files, combine_chunks, embed_files, map_2d
from mlx_embed.organize import near_duplicates, near_duplicates_of
from mlx_embed.organize.terms import cluster_terms
from mlx_embed.organize.vectors import file_chunks, pick_chunks

from . import organize_corpus


# --- pieces, no model --------------------------------------------------------------------------------
def test_combine_chunks_is_length_weighted_and_unit():
    a, b = np.array([1.0, 0, 0]), np.array([0, 1.0, 0])
    v = combine_chunks(np.stack([a, b * 5]), [300, 100])       # chunk norms do not matter, lengths do
    assert np.isclose(np.linalg.norm(v), 1)
    assert np.isclose(v[0] / v[1], 3.0)
    assert np.allclose(combine_chunks(a[None], [7]), a)       # one chunk: exactly that chunk
    assert np.allclose(combine_chunks(np.stack([a, -a]), [1, 1]), a)   # cancelling out: the first chunk
    with pytest.raises(ValueError):
        combine_chunks(np.stack([a, b]), [1])


def test_pick_chunks_spreads_over_the_file():
    assert pick_chunks(3, 8) == [0, 1, 2]
    picked = pick_chunks(100, 8)
    assert len(picked) == 8 and picked[0] == 0 and picked[-1] == 99
    assert max(np.diff(picked)) - min(np.diff(picked)) <= 1


def test_file_chunks_cover_a_long_text(jina_tiny):
    import mlx_embed

    model = mlx_embed.load(jina_tiny)
    text = "".join(f"section {i}: " + "alpha beta gamma. " * 40 + "\n\n" for i in range(60))
    chunks = file_chunks(text, model.tokenizer, 64, 5)
    assert len(chunks) == 5
    # re-tokenised alone, a chunk may take a few more tokens (BPE at its edges); embed_files truncates
    assert all(len(model.tokenizer.encode([c], None)[0]) <= 64 + 4 for c in chunks)
    assert "section 0:" in chunks[0] and "section 59" in text[text.index(chunks[-1]):]
    assert file_chunks("short text", model.tokenizer, 64, 5) == ["short text"]


def test_index_vectors_are_reused_only_where_they_match(jina_tiny, tmp_path, monkeypatch):
    import mlx_embed

    model = mlx_embed.load(jina_tiny)
    for i in range(4):
        (tmp_path / f"f{i}.txt").write_text(f"file number {i} " * 20)
    files = collect_files([tmp_path])
    asked = []

    class StubIndex:                    # the part of mlx_embed.index.Index that embed_files uses
        settings = None

        def vectors_for_files(self, paths, task="retrieval"):
            asked.append(task)
            chunks = np.zeros((2, model.dim), np.float32)
            chunks[0, 0], chunks[1, 1] = 1.0, 1.0
            return {p: chunks for p in paths[:2]}

    fv = embed_files(model, files, "clustering", index=StubIndex())
    assert fv.reused == 0 and not asked              # jina: the index holds retrieval-adapter vectors
    monkeypatch.setattr(model, "tasks", ())           # an adapter-less model (like MiniLM)
    fv = embed_files(model, files, "clustering", index=StubIndex())
    assert fv.reused == 2 and asked == ["retrieval"]
    assert np.allclose(fv.vectors[0][:2], [2 ** -0.5, 2 ** -0.5]) and np.allclose(fv.vectors[1], fv.vectors[0])
    assert np.isclose(np.linalg.norm(fv.vectors[2]), 1) and not np.allclose(fv.vectors[2], fv.vectors[0])


def blobs(n_per: int, k: int, d: int = 32, seed: int = 0, spread: float = 0.3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d))
    x = np.repeat(centres, n_per, axis=0) + spread * rng.normal(size=(k * n_per, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True), np.repeat(np.arange(k), n_per)


def test_kmeans_finds_k_and_is_deterministic():
    x, y = blobs(20, 5)
    a = cluster(x, seed=3)
    b = cluster(x, seed=3)
    assert a.k == 5 and "silhouette" in a.criterion and set(a.scores) >= {2, 5} and set(a.stability) == set(a.scores)
    assert a.stability[5] == pytest.approx(1.0) and a.to_dict()["stability"]["5"] == pytest.approx(1.0)
    assert v_measure_score(y, a.labels) == pytest.approx(1.0)
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.coords, b.coords)
    assert [c.size for c in a.clusters] == sorted((c.size for c in a.clusters), reverse=True)
    fixed = cluster(x, k=3)
    assert fixed.k == 3 and "fixed" in fixed.criterion


def test_silhouette_matches_scikit_learn():
    from sklearn.metrics import silhouette_score

    from mlx_embed.organize.cluster import silhouette

    x, _ = blobs(15, 4, spread=0.8)
    d = np.clip(1 - x @ x.T, 0, 2)
    np.fill_diagonal(d, 0)
    labels = np.array([0] * 20 + [1] * 20 + [2] * 19 + [3])        # includes a cluster of one file
    assert silhouette(d, labels) == pytest.approx(silhouette_score(d, labels, metric="precomputed"), abs=1e-9)


def test_outliers_and_central_files():
    x, _ = blobs(30, 2, spread=0.2)
    odd = x[0] * 0.2 + np.random.default_rng(1).normal(size=x.shape[1]) * 0.5
    x = np.vstack([x, odd / np.linalg.norm(odd)])
    paths = [f"/f/{i}.txt" for i in range(len(x))]
    res = cluster(x, paths=paths, k=2)
    owner = res.cluster_of(paths[-1])
    assert paths[-1] in [str(p) for p in owner.outliers]
    assert str(owner.central[0]) != paths[-1] and len(owner.central) == 3


def test_hdbscan_keeps_noise_apart():
    x, y = blobs(25, 3, spread=0.15)
    rng = np.random.default_rng(5)
    noise = rng.normal(size=(6, x.shape[1]))
    x = np.vstack([x, noise / np.linalg.norm(noise, axis=1, keepdims=True)])
    res = cluster(x, method="hdbscan")
    assert res.k == 3 and len(res.noise) >= 4
    assert all(res.labels[-6:][i] == -1 for i in range(6) if str(res.paths[75 + i]) in map(str, res.noise))
    assert sum(c.size for c in res.clusters) + len(res.noise) == len(x)
    with pytest.raises(ValueError):
        cluster(x, method="hdbscan", k=3)
    agg = cluster(x, method="agglomerative", distance=0.5)
    assert agg.k >= 3 and all(c.size > 1 for c in agg.clusters)


def test_map_is_stable_for_the_same_input():
    x, _ = blobs(10, 3, d=16)
    m1, m2 = map_2d(x), map_2d(x.copy())
    assert m1.shape == (30, 2) and np.array_equal(m1, m2)
    # the sign convention: flipping the data flips nothing in the picture's orientation rule
    assert np.allclose(np.abs(map_2d(-x)), np.abs(m1))


def test_cluster_terms_are_distinctive():
    texts = ["invoice payment due total amount"] * 3 + ["kernel scheduler thread interrupt"] * 3
    labels = np.array([0, 0, 0, 1, 1, 1])
    terms = cluster_terms(texts, labels, top=3)
    assert set(terms[0]) <= {"invoice", "payment", "total", "amount"} and terms[0]
    assert set(terms[1]) <= {"kernel", "scheduler", "thread", "interrupt"} and terms[1]


def test_label_falls_back_to_file_names():
    x, _ = blobs(4, 2)
    paths = [f"/a/report_{i}.txt" for i in range(4)] + [f"/b/photo_{i}.txt" for i in range(4)]
    res = cluster(x, paths=paths, texts=["1234"] * 8, k=2)
    assert sorted(c.label for c in res.clusters) == ["Photo", "Report"]      # a title, safe as a folder name


def test_near_duplicates_blockwise():
    x, _ = blobs(1, 50, d=64)
    dup = x[7] + 0.01 * np.random.default_rng(2).normal(size=64)
    x = np.vstack([x, dup / np.linalg.norm(dup), x[7]])
    paths = [f"/f/{i}" for i in range(len(x))]
    groups = near_duplicates_of(x, paths, 0.98)
    assert len(groups) == 1 and sorted(map(str, groups[0].files)) == sorted(["/f/7", "/f/50", "/f/51"])
    assert groups[0].max_similarity == pytest.approx(1.0, abs=1e-5)


# --- the real model on real files ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def corpus(minilm_path, tmp_path_factory):
    return organize_corpus.embedded(minilm_path, tmp_path_factory.mktemp("corpus"))


def test_real_clustering_beats_tfidf_baseline(corpus):
    fv, truth = corpus
    y = [truth[p] for p in fv.paths]
    k = len(set(y))
    seeds = range(3)          # 59 files: one seed's V-measure moves by +-0.03, so compare means
    tfidf = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit_transform(fv.texts)
    autos = [cluster_files(fv, seed=s) for s in seeds]
    runs = {
        "combined, true k": [cluster_files(fv, k=k, seed=s).labels for s in seeds],
        "combined, auto k": [a.labels for a in autos],
        "semantic only, true k": [cluster_files(fv, k=k, seed=s, lexical_weight=0).labels for s in seeds],
        "tfidf kmeans, true k": [KMeans(k, n_init=3, random_state=s).fit_predict(tfidf) for s in seeds],
    }
    scores = {name: (float(np.mean([v_measure_score(y, lab) for lab in labs])),
                     float(np.mean([adjusted_rand_score(y, lab) for lab in labs]))) for name, labs in runs.items()}
    print(f"\n{len(y)} files, {k} groups; auto k: {[a.k for a in autos]} ({autos[0].criterion})")
    for name, (v, ari) in scores.items():
        print(f"  {name:<24} V-measure {v:.3f}  ARI {ari:.3f}  (mean of {len(seeds)} seeds)")
    v_ours, ari_ours = scores["combined, true k"]
    v_base, ari_base = scores["tfidf kmeans, true k"]
    assert v_ours >= v_base + 0.05 and ari_ours > ari_base      # measured 0.954 vs 0.852
    assert scores["combined, true k"][0] > scores["semantic only, true k"][0]
    assert all(abs(a.k - k) <= 2 for a in autos) and scores["combined, auto k"][0] > v_base
    # automatic k (silhouette + restart agreement): measured 0.943 vs 0.954 at true k (silhouette alone: 0.917)
    assert scores["combined, auto k"][0] >= v_ours - 0.03
    # every cluster is named from its text, and has central files
    assert all(c.label and c.terms and c.central for c in autos[0].clusters)


def test_labels_leave_out_names_and_mail_addresses():
    texts = [f"Copyright 2001 Piers Lauder <piers@lauder.org>\nThis licence grants permission to copy {i}.\n"
             f"Files: *\nCopyright: 2004 Piers Lauder\nlicence permission warranty" for i in range(4)]
    texts += ["the event loop runs tasks and futures; the loop schedules callbacks"] * 4
    terms = cluster_terms(texts, np.array([0] * 4 + [1] * 4), top=5)
    assert "piers" not in terms[0] and "lauder" not in terms[0] and "org" not in terms[0]
    assert {"licence", "permission"} <= set(terms[0]) and "loop" in terms[1]


def test_lexical_block_uses_words_only():
    from mlx_embed.organize.cluster import lexical_block

    texts = [f"kernel scheduler thread {i} 0x{i:04x} v1.{i}" for i in range(6)] + \
            [f"invoice payment total {i} 2024-01-0{i}" for i in range(6)]
    z = lexical_block(texts)
    assert z.shape[0] == 12 and np.allclose(np.linalg.norm(z, axis=1), 1, atol=1e-5)
    sims = z @ z.T
    assert sims[:6, :6].min() > 0.9 and sims[:6, 6:].max() < 0.1     # numbers and versions do not link files
    assert lexical_block(["1234", "5678", "90"]) is None
    x, _ = blobs(3, 4)
    with pytest.raises(ValueError, match="lexical_weight"):
        cluster(x, texts=texts, lexical_weight=1.5)
    with pytest.raises(ValueError, match="texts"):
        cluster(x, lexical_weight=0.5)


def test_words_rescue_what_vectors_blur():
    # vectors that do not separate the groups at all, texts that do: the combination follows the words
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 16))
    texts = ["invoice payment total amount due"] * 12 + ["kernel scheduler thread interrupt"] * 12
    y = [0] * 12 + [1] * 12
    assert v_measure_score(y, cluster(x, k=2).labels) < 0.5
    assert v_measure_score(y, cluster(x, texts=texts, k=2).labels) == pytest.approx(1.0)


def test_devset_is_flat_and_names_say_nothing(tmp_path):
    from tests import organize_devset

    truth = organize_devset.build(tmp_path / "flat")
    groups = set(truth.values())
    assert len(groups) >= 8 and len(truth) >= 300, (len(groups), len(truth))
    assert {p.parent for p in truth} == {tmp_path / "flat"} and {p.suffix for p in truth} == {".txt"}
    assert not any(g.split("-")[-1] in p.name for p in truth for g in groups)
    assert set(organize_devset.DESCRIPTIONS) >= groups


def test_validation_set_is_flat_uneven_and_apart_from_the_dev_sets(tmp_path):
    from tests import organize_devset, organize_validation

    src = organize_validation.sources()
    sizes = sorted(len(files) for files in src.values())
    assert 6 <= len(src) <= 12 and sizes[-1] >= 2 * sizes[0], sizes          # uneven groups
    used = {p for files in organize_devset.sources().values() for p in files}
    used |= {p for files in organize_corpus.sources().values() for p in files}
    assert not used & {p for files in src.values() for p in files}         # no file of the dev sets
    assert set(organize_validation.DESCRIPTIONS) >= set(src)
    truth = organize_validation.build(tmp_path / "flat")
    assert len(truth) == sum(sizes) and {p.parent for p in truth} == {tmp_path / "flat"}
    assert {p.suffix for p in truth} == {".txt"} and all(p.stem.isdigit() for p in truth)


def test_real_clustering_is_reproducible_and_mapped(corpus):
    fv, _ = corpus
    a, b = cluster_files(fv, seed=1), cluster_files(fv, seed=1)
    assert np.array_equal(a.labels, b.labels) and [c.label for c in a.clusters] == [c.label for c in b.clusters]
    assert a.coords.shape == (len(fv), 2) and np.array_equal(a.coords, b.coords)
    h = cluster_files(fv, method="hdbscan")
    assert sum(c.size for c in h.clusters) + len(h.noise) == len(fv)
    data = json.loads(json.dumps(a.to_dict()))
    assert sum(len(g["files"]) for g in data["groups"]) == len(fv) and len(data["map"]) == len(fv)


def test_real_near_duplicates(minilm_path, tmp_path):
    import mlx_embed

    src = organize_corpus.sources()
    a = src["copyright"][0].read_text(errors="replace")
    (tmp_path / "a.txt").write_text(a)
    (tmp_path / "a copy.txt").write_text(a)
    (tmp_path / "a edited.txt").write_text(a.replace("Copyright", "Copyright (c)", 1) + "\nOne more line.\n")
    (tmp_path / "other.txt").write_text(src["changelog"][0].name + "\n" + "the event loop runs tasks\n" * 20)
    model = mlx_embed.load(minilm_path)
    dv = embed_files(model, collect_files([tmp_path]), "text-matching", max_chunks=2, max_tokens=128)
    [group] = near_duplicates(dv, 0.95)
    assert sorted(p.name for p in group.files) == ["a copy.txt", "a edited.txt", "a.txt"]
    assert [sorted(p.name for p in g) for g in group.identical] == [["a copy.txt", "a.txt"]]


def test_cli_cluster_and_dupes(jina_tiny, tmp_path, capsys, monkeypatch):
    # mechanics only (random tiny model): JSON shape, plan groups, skipped binary file
    monkeypatch.setenv("MLX_EMBED_INDEX", str(tmp_path / "no-index"))
    for i in range(8):
        (tmp_path / f"note{i}.txt").write_text(("planets orbit the sun " if i % 2 else "invoice total due ") * (i + 3))
    (tmp_path / "blob.bin.txt").write_bytes(b"\x00\x01\x02" * 100)
    assert main(["cluster", str(tmp_path), "--model", str(jina_tiny), "--json", "--k", "2", "--max-chunks", "2"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["k"] == 2 and sum(len(g["files"]) for g in data["groups"]) == 8
    assert "blob.bin.txt" in captured.err or "blob.bin.txt" in json.dumps(data["skipped"])
    assert main(["cluster", str(tmp_path), "--model", str(jina_tiny)]) == 0
    assert "clusters (kmeans" in capsys.readouterr().out
    assert main(["dupes", str(tmp_path), "--model", str(jina_tiny), "--threshold", "0.999", "--json"]) == 0
    assert "groups" in json.loads(capsys.readouterr().out)
