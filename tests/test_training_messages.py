"""Callbacks, why training stopped, the estimators' verbose lines and the
throttled displays (issue 15, item 5)."""

import contextlib
import io
import pickle
import re
import sys

import numpy as np
import pytest
from helpers import problem
from sklearn.neural_network import MLPClassifier, MLPRegressor

import fastbp as fb
from fastbp._progress import LINE_INTERVAL, Stall, progress_bar
from fastbp._training import History, stop_message

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

LOGS = {"loss": 0.5, "seconds": 0.01, "learning_rate": 0.1}


def data(n=30, seed=0):
    return problem([3, 6, 2], "sigmoid", "squared_error", n=n, seed=seed)


@pytest.fixture
def no_tqdm(monkeypatch):
    """The plain lines: tqdm cannot be imported."""
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)


# -- B: what a callback returns --------------------------------------------


@pytest.mark.parametrize("falsy", [False, np.False_, 0, 0.0, np.int64(0), np.array([False]), ""])
def test_a_false_value_from_the_callback_stops_after_that_epoch(falsy):
    X, Y = data()
    history = fb.Network([3, 6, 2], seed=0).train(
        X, Y, epochs=10, callback=lambda epoch, logs: falsy if epoch == 2 else None
    )
    assert len(history) == 3
    assert history.stop_reason.startswith("the callback returned ")


@pytest.mark.parametrize("goes_on", [None, True, np.True_, 1, "stop?", np.array([1.0])])
def test_none_or_a_true_value_from_the_callback_goes_on(goes_on):
    X, Y = data()
    history = fb.Network([3, 6, 2], seed=0).train(X, Y, epochs=4, callback=lambda e, logs: goes_on)
    assert len(history) == 4 and history.stop_reason is None


def test_a_callback_that_checks_a_numpy_comparison_stops():
    X, Y = data()
    net = fb.Network([3, 6, 2], seed=0)
    history = net.train(X, Y, epochs=10, callback=lambda e, logs: np.float64(e) < 1.5)
    assert len(history) == 3  # np.False_ after the third epoch


@pytest.mark.parametrize("ambiguous", [np.array([True, False]), np.zeros((2, 2))])
def test_a_callback_result_without_a_truth_value_is_a_type_error(ambiguous):
    X, Y = data()
    with pytest.raises(TypeError, match="callback must return None or a truth value") as info:
        fb.Network([3, 6, 2], seed=0).train(X, Y, epochs=4, callback=lambda e, logs: ambiguous)
    assert isinstance(info.value.__cause__, ValueError)


@pytest.mark.parametrize(
    "extra,keys",
    [
        ({}, set()),
        ({"validation": True}, {"val_loss"}),
        ({"score": True}, {"val_score"}),
        ({"validation": True, "score": True}, {"val_loss", "val_score"}),
    ],
)
def test_the_logs_hold_the_validation_figures_only_when_measured(extra, keys):
    X, Y = data()
    seen = []
    options = {}
    if extra.get("validation"):
        options["validation_data"] = (X[:10], Y[:10])
    if extra.get("score"):
        options["score"] = lambda net: -net.loss(X, Y)
    fb.Network([3, 6, 2], seed=0).train(
        X, Y, epochs=2, callback=lambda e, logs: seen.append(set(logs)), **options
    )
    assert seen == [{"loss", "seconds", "learning_rate"} | keys] * 2


# -- C: the history says why training stopped -------------------------------


def test_all_epochs_run_leave_no_stop_reason():
    X, Y = data()
    history = fb.Network([3, 6, 2], seed=0).train(
        X, Y, epochs=3, validation_data=(X, Y), early_stopping=True
    )
    assert len(history) == 3 and history.stop_reason is None
    assert history.best_epoch is not None and stop_message(history) is None


def test_a_stalled_training_loss_is_the_stop_reason():
    X, Y = data()
    history = fb.Network([3, 6, 2], seed=0).train(
        X, Y, epochs=50, learning_rate=1e-12, tol=1e-4, n_iter_no_change=3
    )
    # the first epoch is a new best; the next four fail to improve by tol
    assert len(history) == 5
    assert history.stop_reason == "training loss did not improve by 0.0001 for 4 epochs"
    assert stop_message(history) == (
        "stopped after epoch 5: training loss did not improve by 0.0001 for 4 epochs"
    )


@pytest.mark.parametrize("monitored", ["validation loss", "validation score"])
def test_early_stopping_names_what_it_monitored_and_the_epoch_it_restored(monitored):
    X, Y = data()
    options = {"score": lambda net: 0.0} if monitored == "validation score" else {}
    history = fb.Network([3, 6, 2], seed=0).train(
        X, Y, epochs=50, learning_rate=1e-12, validation_data=(X, Y), early_stopping=True,
        n_iter_no_change=2, **options,
    )  # fmt: skip
    assert history.stop_reason == f"{monitored} did not improve by 0.0001 for 3 epochs"
    assert history.best_epoch is not None
    assert stop_message(history).endswith(
        f"; restored the parameters of epoch {history.best_epoch + 1}"
    )
    assert stop_message(history).startswith(f"stopped after epoch {len(history)}: {monitored}")


def test_the_adaptive_schedule_says_when_it_stopped_at_its_floor():
    X, Y = data()
    history = fb.Network([3, 6, 2], seed=0).train(
        X, Y, epochs=500, learning_rate=1e-12, schedule="adaptive", n_iter_no_change=1
    )
    assert history.stop_reason == (
        "training loss did not improve by 0.0001 for 2 epochs with the learning rate at its floor"
    )


def test_a_stopping_rule_before_a_false_callback_in_one_epoch_keeps_its_reason():
    X, Y = data()
    history = fb.Network([3, 6, 2], seed=0).train(
        X, Y, epochs=50, learning_rate=1e-12, n_iter_no_change=1, callback=lambda e, logs: False
    )
    assert len(history) == 1 and history.stop_reason == "the callback returned False"
    history = fb.Network([3, 6, 2], seed=0).train(
        X, Y, epochs=50, learning_rate=1e-12, n_iter_no_change=1, callback=lambda e, logs: e < 2
    )
    assert len(history) == 3
    assert history.stop_reason.startswith("training loss did not improve")


def test_the_stop_reason_survives_pickle_and_old_pickles_load(tmp_path):
    X, Y = data()
    net = fb.Network([3, 6, 2], seed=0)
    history = net.train(X, Y, epochs=10, callback=lambda e, logs: e < 1)
    copy = pickle.loads(pickle.dumps(history))
    assert copy == history and copy.stop_reason == "the callback returned False"
    old = History()
    old.extend([0.5, 0.25])
    del old.__dict__["stop_reason"]  # as pickled before History had it
    loaded = pickle.loads(pickle.dumps(old))
    assert "stop_reason" not in loaded.__dict__ and loaded.stop_reason is None
    fb.save(net, tmp_path / "n.fbp", history=history)
    assert fb.io.load_metadata(tmp_path / "n.fbp")["history"] == list(history)


def test_verbose_training_prints_the_stop_line_after_the_last_epoch(capsys, no_tqdm):
    X, Y = data()
    history = fb.Network([3, 6, 2], seed=0).train(
        X, Y, epochs=50, learning_rate=1e-12, validation_data=(X, Y), early_stopping=True,
        n_iter_no_change=2, verbose=True,
    )  # fmt: skip
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == ""
    assert lines[0].startswith("epoch 1/50: ")
    assert lines[-2].startswith(f"epoch {len(history)}/50: ")
    assert lines[-1] == stop_message(history)
    assert re.fullmatch(
        r"stopped after epoch \d+: validation loss did not improve by 0\.0001 for 3 epochs; "
        r"restored the parameters of epoch \d+",
        lines[-1],
    )


def test_verbose_training_with_a_bar_prints_the_stop_line_too(capsys):
    pytest.importorskip("tqdm")
    X, Y = data()
    history = fb.Network([3, 6, 2], seed=0).train(
        X, Y, epochs=50, callback=lambda e, logs: e < 3, verbose=True
    )
    err = capsys.readouterr().err
    assert err.rstrip("\n").endswith(stop_message(history))
    assert stop_message(history) == "stopped after epoch 4: the callback returned False"


def test_without_verbose_nothing_is_printed(capsys):
    X, Y = data()
    fb.Network([3, 6, 2], seed=0).train(X, Y, epochs=50, learning_rate=1e-12, n_iter_no_change=1)
    assert capsys.readouterr() == ("", "")


# -- D: the estimators print scikit-learn's lines ---------------------------


def printed(estimator, X, y):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        estimator.fit(X, y)
    return out.getvalue().splitlines()


def regression(n=60):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4))
    return X, X @ [1.0, -2.0, 0.5, 0.0]


def test_an_estimator_prints_an_iteration_line_per_epoch_to_stdout(capsys):
    X, y = regression()
    model = fb.BPRegressor((6,), max_iter=7, random_state=0, verbose=True)
    model.fit(X, y)
    out, err = capsys.readouterr()
    assert err == ""  # no progress bar
    assert out.splitlines() == [
        f"Iteration {k}, loss = {loss:.8f}" for k, loss in enumerate(model.loss_curve_, start=1)
    ]


def test_an_estimator_with_early_stopping_prints_the_validation_scores(capsys):
    X, y = regression(100)
    model = fb.BPClassifier(
        (6,), max_iter=200, random_state=0, verbose=True, early_stopping=True, n_iter_no_change=2,
        learning_rate_init=1e-6,
    )  # fmt: skip
    model.fit(X, y > 0)
    lines = capsys.readouterr().out.splitlines()
    *epochs, stop = lines
    assert epochs[0::2] == [
        f"Iteration {k}, loss = {loss:.8f}" for k, loss in enumerate(model.loss_curve_, start=1)
    ]
    assert epochs[1::2] == [f"Validation score: {s:f}" for s in model.validation_scores_]
    assert stop == (
        "Validation score did not improve more than tol=0.000100 for 2 consecutive epochs. "
        "Stopping."
    )


@pytest.mark.parametrize(
    "options",
    [
        dict(solver="sgd", learning_rate="adaptive", learning_rate_init=1e-5, tol=0.01),
        dict(solver="adam", learning_rate_init=1e-7, tol=0.01),
        dict(solver="sgd", learning_rate_init=1e-7, tol=0.01),
    ],
    ids=["adaptive", "adam", "sgd"],
)
def test_the_stopping_lines_are_scikit_learns(options):
    """With rates too small to improve the loss, both stop on the same epochs
    with the same lines."""
    X, y = regression()
    shared = dict(hidden_layer_sizes=(6,), max_iter=200, random_state=0, verbose=True)
    ours = printed(fb.BPRegressor(**shared, **options, n_iter_no_change=3), X, y)
    theirs = printed(MLPRegressor(**shared, **options, n_iter_no_change=3), X, y)

    def shape(lines):
        return [line.split(",")[0] if line.startswith("Iteration") else line for line in lines]

    assert shape(ours) == shape(theirs)
    assert ours[-1].endswith("Stopping.")


def test_the_validation_stopping_line_is_scikit_learns():
    X, y = regression(100)
    shared = dict(
        hidden_layer_sizes=(6,), max_iter=200, random_state=0, verbose=True, early_stopping=True,
        n_iter_no_change=2, learning_rate_init=1e-7,
    )  # fmt: skip
    ours = printed(fb.BPClassifier(**shared), X, y > 0)
    theirs = printed(MLPClassifier(**shared), X, y > 0)
    assert ours[-1] == theirs[-1]
    assert sum(line.startswith("Iteration") for line in ours) == len(ours) // 2


def test_partial_fit_numbers_its_iterations_as_n_iter_(capsys):
    X, y = regression()
    model = fb.BPRegressor((6,), random_state=0, verbose=True)
    for _ in range(3):
        model.partial_fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == ["Iteration 1", "Iteration 2", "Iteration 3"]
    assert model.n_iter_ == 3


def test_a_quiet_estimator_prints_nothing(capsys):
    X, y = regression()
    fb.BPRegressor((6,), max_iter=3, random_state=0).fit(X, y)
    assert capsys.readouterr() == ("", "")


# -- E: throttled displays -----------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def shown_epochs(err):
    return [int(line.split("/")[0].removeprefix("epoch ")) for line in err.splitlines()]


def test_lines_show_the_first_and_last_epoch_and_about_one_a_second(capsys, no_tqdm):
    clock = Clock()
    with progress_bar(100, 10, True, clock=clock) as display:
        for epoch in range(1, 101):
            clock.now = 0.25 * epoch
            display.update(LOGS)
    # epoch 1 at 0.25 s; then each epoch a whole second after the last one shown
    assert shown_epochs(capsys.readouterr().err) == [1, *range(5, 98, 4), 100]
    assert LINE_INTERVAL == 1.0


def test_a_fast_run_of_3000_epochs_prints_two_lines(capsys, no_tqdm):
    with progress_bar(3000, 10, True, clock=Clock()) as display:
        for _ in range(3000):
            display.update(LOGS)
    assert shown_epochs(capsys.readouterr().err) == [1, 3000]


def test_lines_of_a_run_that_ends_early_show_its_last_epoch_then_why(capsys, no_tqdm):
    clock = Clock()
    with progress_bar(100, 10, True, clock=clock) as display:
        for _ in range(7):
            display.update(LOGS)
        display.stopped("stopped after epoch 7: the callback returned False")
        assert shown_epochs(capsys.readouterr().err) == [1]
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "epoch 7/100: loss=0.5, 1,000 samples/s",
        "stopped after epoch 7: the callback returned False",
    ]


def test_lines_show_a_lowered_learning_rate_after_the_epoch_it_follows(capsys, no_tqdm):
    with progress_bar(100, 10, True, clock=Clock()) as display:
        for _ in range(3):
            display.update(LOGS)
        display.stall(Stall(2, "training loss", 1e-4, 10, 11, rate=0.02))
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "epoch 1/100: loss=0.5, 1,000 samples/s",
        "epoch 3/100: loss=0.5, 1,000 samples/s",
        "epoch 3: training loss did not improve by 0.0001 for 11 epochs; "
        "learning rate lowered to 0.02",
    ]


def test_network_train_lines_keep_the_first_and_last_epoch(capsys, no_tqdm):
    X, Y = data()
    fb.Network([3, 6, 2], seed=0).train(X, Y, epochs=40, verbose=True)
    epochs = shown_epochs(capsys.readouterr().err)
    assert epochs[0] == 1 and epochs[-1] == 40 and epochs == sorted(set(epochs))


@pytest.mark.parametrize("epochs,miniters", [(3, 1), (250, 2), (3000, 30)])
def test_the_bar_redraws_at_most_twice_a_second_and_every_hundredth(epochs, miniters, capsys):
    pytest.importorskip("tqdm")
    display = progress_bar(epochs, 10, True)
    try:
        assert display.bar.mininterval == 0.5
        assert display.bar.miniters == miniters
    finally:
        display.close()
