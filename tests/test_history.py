"""Network.train's history, callback, stopping rules, early stopping and progress display."""

import io
import pickle
import sys

import numpy as np
import pytest
from helpers import problem

import fastbp as fb
from fastbp._progress import progress_bar


def data(n=30, seed=0):
    return problem([3, 6, 2], "sigmoid", "squared_error", n=n, seed=seed)


def test_history_is_a_list_of_losses_with_per_epoch_records():
    X, Y = data()
    net = fb.Network([3, 6, 2], seed=0)
    history = net.train(
        X,
        Y,
        epochs=4,
        batch_size=5,
        seed=0,
        validation_data=(X[:10], Y[:10]),
        score=lambda n: -n.loss(X, Y),
    )
    assert isinstance(history, list) and len(history) == 4
    assert history == list(history) and history[-1] == list(history)[-1]
    assert len(history.val_loss) == len(history.val_score) == len(history.seconds) == 4
    assert history.val_score[-1] == pytest.approx(-net.loss(X, Y), abs=1e-15)
    assert history.val_loss[-1] == pytest.approx(net.loss(X[:10], Y[:10]), abs=1e-15)
    assert all(s > 0 for s in history.seconds)
    assert history.learning_rate == [0.5] * 4
    copy = pickle.loads(pickle.dumps(history))
    assert copy == history and copy.val_loss == history.val_loss


def test_callback_sees_each_epoch_and_can_stop_training():
    X, Y = data()
    seen = []

    def callback(epoch, logs):
        seen.append((epoch, logs["loss"]))
        return epoch < 2  # False after the third epoch stops training

    history = fb.Network([3, 6, 2], seed=0).train(X, Y, epochs=10, seed=0, callback=callback)
    assert [e for e, _ in seen] == [0, 1, 2]
    assert [loss for _, loss in seen] == history


def test_training_loss_that_stalls_stops_after_n_iter_no_change():
    X, Y = data()
    net = fb.Network([3, 6, 2], seed=0)
    # a tiny rate: no epoch improves on the first by tol, so the count runs out
    history = net.train(X, Y, epochs=50, learning_rate=1e-12, tol=1e-4, n_iter_no_change=3)
    assert len(history) == 3 + 2


def test_adaptive_schedule_divides_the_rate_by_five_then_stops():
    X, Y = data()
    net = fb.Network([3, 6, 2], seed=0)
    history = net.train(
        X, Y, epochs=100, learning_rate=1e-5, schedule="adaptive", n_iter_no_change=2
    )
    # the first epoch sets the best and all later ones stall: the rate is cut
    # when a third stalled epoch exceeds the patience of 2, and once it is below
    # 1e-6 the next exhausted patience stops training
    expected = [1e-5] * 4 + [2e-6] * 3 + [4e-7] * 3
    assert history.learning_rate == pytest.approx(expected, rel=1e-12)
    assert len(history) == 10


def test_invscaling_rate_follows_samples_seen():
    X, Y = data()
    history = fb.Network([3, 6, 2], seed=0).train(
        X, Y, epochs=3, learning_rate=0.5, schedule="invscaling", power_t=0.5
    )
    assert history.learning_rate == pytest.approx([0.5, 0.5 / 31**0.5, 0.5 / 61**0.5])


def test_early_stopping_restores_the_best_parameters_seen():
    X, Y = data(n=40)
    Xv, Yv = data(n=20, seed=9)
    snapshots = []
    net = fb.Network([3, 6, 2], seed=0)
    history = net.train(
        X,
        Y,
        epochs=60,
        batch_size=4,
        learning_rate=3.0,
        seed=0,
        validation_data=(Xv, Yv),
        early_stopping=True,
        n_iter_no_change=3,
        callback=lambda e, logs: snapshots.append(net.params.copy()),
    )
    best = int(np.argmin(history.val_loss))
    assert history.best_epoch == best
    assert len(history) < 60 and len(history) - 1 - best > 3
    np.testing.assert_array_equal(net.params, snapshots[best])
    assert net.loss(Xv, Yv) == pytest.approx(min(history.val_loss), abs=1e-15)


def test_early_stopping_on_a_score_keeps_the_highest():
    X, Y = data(n=40)
    scores = iter([0.1, 0.5, 0.4, 0.3, 0.2, 0.6, 0.1])
    snapshots = []
    net = fb.Network([3, 6, 2], seed=0)
    history = net.train(
        X,
        Y,
        epochs=7,
        seed=0,
        score=lambda n: next(scores),
        early_stopping=True,
        n_iter_no_change=2,
        callback=lambda e, logs: snapshots.append(net.params.copy()),
    )
    # 0.4, 0.3, 0.2 fail to beat 0.5: the third of them exceeds the patience of 2
    assert history.val_score == [0.1, 0.5, 0.4, 0.3, 0.2]
    np.testing.assert_array_equal(net.params, snapshots[1])


@pytest.mark.parametrize("with_tqdm", [True, False])
def test_verbose_shows_loss_and_samples_per_second(capsys, monkeypatch, with_tqdm):
    if with_tqdm:
        pytest.importorskip("tqdm")
    else:
        monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # as if tqdm were not installed
    X, Y = data()
    fb.Network([3, 6, 2], seed=0).train(X, Y, epochs=2, verbose=True)
    err = capsys.readouterr().err
    assert "loss=" in err and "samples/s" in err
    assert ("epoch 2/2:" in err) is not with_tqdm


LOGS = {"loss": 0.5, "val_loss": 0.25, "val_score": 0.75, "seconds": 0.01, "learning_rate": 0.1}


class Stderr(io.StringIO):
    """A stand-in for stderr that counts flushes and says whether it is a terminal."""

    def __init__(self, terminal):
        super().__init__()
        self.terminal = terminal
        self.flushes = 0

    def isatty(self):
        return self.terminal

    def flush(self):
        self.flushes += 1
        super().flush()


def test_progress_lines_name_the_score_and_are_flushed_for_logs(monkeypatch):
    stderr = Stderr(terminal=False)
    monkeypatch.setattr(sys, "stderr", stderr)
    with progress_bar(2, 100, True, desc="training", score_name="val_r2", terminal_only=True) as p:
        p.update(LOGS)
        assert stderr.getvalue() == (
            "epoch 1/2: loss=0.5, val_loss=0.25, val_r2=0.75, 10,000 samples/s\n"
        )
        assert stderr.flushes >= 1
        p.update({"loss": 0.125, "seconds": 0.02, "learning_rate": 0.1})
    assert stderr.getvalue().splitlines()[1] == "epoch 2/2: loss=0.125, 5,000 samples/s"


def test_progress_bar_on_a_terminal_and_nothing_unless_verbose(monkeypatch):
    pytest.importorskip("tqdm")
    stderr = Stderr(terminal=True)
    monkeypatch.setattr(sys, "stderr", stderr)
    with progress_bar(2, 100, False, terminal_only=True) as p:
        p.update(LOGS)
    assert stderr.getvalue() == ""
    with progress_bar(1, 100, True, desc="training", score_name="val_r2", terminal_only=True) as p:
        p.update(LOGS)
    shown = stderr.getvalue()
    assert "training: 100%" in shown and "1/1" in shown and "val_r2=0.75" in shown
    assert "epoch 1/1:" not in shown


@pytest.mark.parametrize(
    "kw,error,match",
    [
        (dict(optimizer="bfgs"), ValueError, "optimizer must be one of"),
        (dict(optimizer="rprop", batch_size=4), ValueError, "rprop.*full batches"),
        (dict(momentum=1.5), ValueError, r"momentum must be a finite number in \[0.0, 1.0\]"),
        (dict(momentum="high"), TypeError, "momentum must be a number"),
        (dict(beta_2=1.0), ValueError, "beta_2"),
        (dict(epsilon=0.0), ValueError, "epsilon"),
        (dict(nesterov="yes"), TypeError, "nesterov must be True or False"),
        (dict(alpha=-1.0), ValueError, "alpha"),
        (dict(schedule="cosine"), ValueError, "schedule must be one of"),
        (dict(n_iter_no_change=0), ValueError, "n_iter_no_change must be at least 1"),
        (dict(sample_weight=[1.0, 2.0]), ValueError, r"sample_weight has shape \(2,\)"),
        (dict(sample_weight=[-1.0] * 30), ValueError, "sample_weight must hold finite values"),
        (dict(sample_weight=[0.0] * 30), ValueError, "sums to zero"),
        (dict(early_stopping=True), ValueError, "early_stopping=True needs validation_data"),
        (dict(validation_data=np.zeros((3, 3))), TypeError, "validation_data must be a pair"),
    ],
)
def test_bad_training_options_are_rejected_before_training(kw, error, match):
    X, Y = data()
    net = fb.Network([3, 6, 2], seed=0)
    before = net.params.copy()
    with pytest.raises(error, match=match):
        net.train(X, Y, **kw)
    np.testing.assert_array_equal(net.params, before)
