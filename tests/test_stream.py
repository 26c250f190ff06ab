"""Data larger than memory: training over a memmap, a Dask array or a Zarr array by chunks."""

import tracemalloc

import numpy as np
import pytest

import fastbp as fb
from fastbp import _stream

ROWS, COLS, CHUNK = 1200, 10, 100


@pytest.fixture
def small_chunks(monkeypatch):
    """Memmaps read 100 rows at a time, as Dask and Zarr sources are chunked here."""
    monkeypatch.setattr(_stream, "CHUNK_BYTES", 8 * COLS * CHUNK)


def data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(ROWS, COLS))
    return X, (X[:, :1] - X[:, 1:2] > 0).astype(float)


def memmap_of(tmp_path, X, name="x.dat"):
    path = tmp_path / name
    out = np.memmap(path, dtype=X.dtype, mode="w+", shape=X.shape)
    out[:] = X
    out.flush()
    return np.memmap(path, dtype=X.dtype, mode="r", shape=X.shape)


def sources(tmp_path, X):
    found = {"memmap": memmap_of(tmp_path, X)}
    try:
        import dask.array as da
    except ImportError:
        pass
    else:
        found["dask"] = da.from_array(X, chunks=(CHUNK, COLS))
    try:
        import zarr
    except ImportError:
        pass
    else:
        found["zarr"] = zarr.array(X, chunks=(CHUNK, COLS))
    return found


KINDS = ["memmap", "dask", "zarr"]


def source(tmp_path, X, kind):
    found = sources(tmp_path, X)
    if kind not in found:
        pytest.skip(f"{kind} is not installed (the dask extra)")
    return found[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_streamed_training_in_order_equals_training_in_memory(small_chunks, tmp_path, kind):
    # without shuffling the chunks come in order and their batches are the same
    X, Y = data()
    streamed, in_memory = fb.Network([COLS, 6, 1], seed=0), fb.Network([COLS, 6, 1], seed=0)
    kw = dict(epochs=3, batch_size=20, shuffle=False, learning_rate=0.3)
    h_stream = streamed.train(source(tmp_path, X, kind), Y, **kw)
    h_memory = in_memory.train(X, Y, **kw)
    np.testing.assert_allclose(h_stream, h_memory, rtol=1e-14)  # summed chunk by chunk
    np.testing.assert_array_equal(streamed.params, in_memory.params)


@pytest.mark.parametrize("kind", KINDS)
def test_shuffled_streaming_is_reproducible_and_every_source_agrees(small_chunks, tmp_path, kind):
    X, Y = data()
    runs = []
    for src in (source(tmp_path, X, kind), memmap_of(tmp_path, X, "again.dat")):
        net = fb.Network([COLS, 6, 1], seed=0)
        history = net.train(src, Y, epochs=4, batch_size=16, optimizer="adam",
                            learning_rate=0.01, seed=3, validation_data=(X, Y))  # fmt: skip
        runs.append((net.params.copy(), list(history)))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]
    assert runs[0][1][-1] < runs[0][1][0]
    unshuffled = fb.Network([COLS, 6, 1], seed=0)
    unshuffled.train(X, Y, epochs=4, batch_size=16, optimizer="adam", learning_rate=0.01,
                     shuffle=False)  # fmt: skip
    assert not np.array_equal(runs[0][0], unshuffled.params)


def test_each_epoch_visits_the_chunks_in_a_new_order(small_chunks, tmp_path, monkeypatch):
    X, Y = data()
    seen = []
    original = _stream.Stream.load

    def spy(self, chunk):
        seen.append(chunk)
        return original(self, chunk)

    monkeypatch.setattr(_stream.Stream, "load", spy)
    fb.Network([COLS, 4, 1], seed=0).train(memmap_of(tmp_path, X), Y, epochs=3, batch_size=10,
                                           seed=1)  # fmt: skip
    epochs = [seen[i : i + 12] for i in range(0, 36, 12)]
    assert len(seen) == 36 and all(sorted(e) == list(range(12)) for e in epochs)
    assert len({tuple(e) for e in epochs}) == 3


def test_peak_memory_is_one_chunk_not_the_data(tmp_path, monkeypatch):
    monkeypatch.setattr(_stream, "CHUNK_BYTES", 2**20)  # 1 MiB of rows at a time
    rng = np.random.default_rng(0)
    n = 250_000  # 20 MB of X
    path = tmp_path / "big.dat"
    out = np.memmap(path, dtype=np.float64, mode="w+", shape=(n, COLS))
    for start in range(0, n, 50_000):
        out[start : start + 50_000] = rng.normal(size=(50_000, COLS))
    out.flush()
    del out
    X = np.memmap(path, dtype=np.float64, mode="r", shape=(n, COLS))
    Y = np.memmap(tmp_path / "y.dat", dtype=np.float64, mode="w+", shape=(n, 1))
    net = fb.Network([COLS, 8, 1], seed=0)
    tracemalloc.start()
    try:
        net.train(X, Y, epochs=1, batch_size=64, optimizer="adam", learning_rate=0.01, seed=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 6 * 2**20, f"peak {peak:,} bytes for {X.nbytes:,} bytes of X"


def test_bad_data_in_a_later_chunk_is_refused_and_the_network_left_as_it_was(
    small_chunks, tmp_path
):
    X, Y = data()
    X[1050, 3] = np.nan
    net = fb.Network([COLS, 4, 1], seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match=r"X \(rows 1000 to 1099\) contains NaN"):
        net.train(memmap_of(tmp_path, X), Y, epochs=2, batch_size=10, shuffle=False)
    np.testing.assert_array_equal(net.params, before)


def test_full_batch_optimisers_are_refused_for_streams(small_chunks, tmp_path):
    X, Y = data()
    for optimizer in ("rprop", "lbfgs"):
        with pytest.raises(ValueError, match="fastbp.dask.train"):
            fb.Network([COLS, 4, 1], seed=0).train(memmap_of(tmp_path, X), Y, batch_size=None,
                                                   optimizer=optimizer)  # fmt: skip


def test_shapes_are_checked_before_anything_is_read(small_chunks, tmp_path):
    X, Y = data()
    with pytest.raises(ValueError, match="the network expects 9"):
        fb.Network([9, 4, 1], seed=0).train(memmap_of(tmp_path, X), Y)
    with pytest.raises(ValueError, match="Y has shape"):
        fb.Network([COLS, 4, 1], seed=0).train(memmap_of(tmp_path, X), Y[:10])


@pytest.mark.parametrize("kind", KINDS)
def test_partial_fit_over_a_stream_is_one_epoch_of_its_chunks(small_chunks, tmp_path, kind):
    X, Y = data()
    y = Y.ravel().astype(int)
    streamed = fb.BPClassifier(hidden_layer_sizes=(6,), shuffle=False, random_state=0)
    streamed.partial_fit(source(tmp_path, X, kind), y, classes=[0, 1])
    by_hand = fb.BPClassifier(hidden_layer_sizes=(6,), shuffle=False, random_state=0)
    for start in range(0, ROWS, CHUNK):
        by_hand.partial_fit(X[start : start + CHUNK], y[start : start + CHUNK], classes=[0, 1])
    np.testing.assert_array_equal(streamed.network_.params, by_hand.network_.params)
    assert streamed.n_iter_ == 1 and len(streamed.loss_curve_) == 1
    assert streamed.loss_ == pytest.approx(np.mean(by_hand.loss_curve_))


@pytest.mark.parametrize("kind", ["memmap", "dask"])
def test_y_may_be_one_dimensional_or_a_list(small_chunks, tmp_path, kind):
    X, Y = data()
    results = []
    for targets in (Y, Y[:, 0], Y[:, 0].tolist()):
        net = fb.Network([COLS, 4, 1], seed=0)
        net.train(source(tmp_path, X, kind), targets, epochs=2, batch_size=10, shuffle=False)
        results.append(net.params)
    for params in results[1:]:
        np.testing.assert_array_equal(params, results[0])


def test_a_copy_on_write_memmap_is_read_with_its_changes(small_chunks, tmp_path):
    X, Y = data()
    path = tmp_path / "x.dat"
    memmap_of(tmp_path, X)
    changed = np.memmap(path, dtype=X.dtype, mode="c", shape=X.shape)
    changed[:] = 0.0  # in this process only, not in the file
    streamed, in_memory = fb.Network([COLS, 4, 1], seed=0), fb.Network([COLS, 4, 1], seed=0)
    streamed.train(changed, Y, epochs=1, batch_size=10, shuffle=False)
    in_memory.train(np.zeros_like(X), Y, epochs=1, batch_size=10, shuffle=False)
    np.testing.assert_array_equal(streamed.params, in_memory.params)


def test_a_bad_chunk_keeps_the_optimiser_state_of_the_call_before(small_chunks, tmp_path):
    X, Y = data()
    net = fb.Network([COLS, 4, 1], seed=0)
    net.train(X, Y, epochs=1, optimizer="adam", learning_rate=0.01)
    state = net._optimizer["state"].copy()
    X[700, 0] = np.inf
    with pytest.raises(ValueError, match="rows 700 to 799"):
        net.train(memmap_of(tmp_path, X), Y, optimizer="sgd", momentum=0.9, shuffle=False)
    assert net._optimizer["code"] == fb.optimizers.OPTIMIZERS["adam"].code
    np.testing.assert_array_equal(net._optimizer["state"], state)


def test_batches_never_span_chunks_so_their_buffers_stay_a_chunk(small_chunks, tmp_path):
    X, Y = data()
    net = fb.Network([COLS, 4, 1], seed=0)
    net.train(memmap_of(tmp_path, X), Y, epochs=1, batch_size=None, optimizer="adam")
    assert net._workspace_shape[0] == CHUNK  # one batch per chunk, not all the rows


def test_partial_fit_over_a_stream_refused_midway_leaves_the_estimator_as_it_was(
    small_chunks, tmp_path
):
    X, Y = data()
    y = Y.ravel().astype(int)
    clf = fb.BPClassifier(hidden_layer_sizes=(5,), random_state=0)
    clf.partial_fit(X, y, classes=[0, 1])
    before = (clf.network_.params.copy(), clf.n_iter_, list(clf.loss_curve_))
    X[300, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.partial_fit(memmap_of(tmp_path, X), y)
    assert (clf.n_iter_, clf.loss_curve_) == before[1:]
    np.testing.assert_array_equal(clf.network_.params, before[0])
    # a chunk of zero weight is skipped, as Network.train skips it
    X[300, 2] = 0.0
    weights = np.ones(ROWS)
    weights[:CHUNK] = 0.0
    clf.partial_fit(memmap_of(tmp_path, X, "clean.dat"), y, sample_weight=weights)
    assert clf.n_iter_ == 2
