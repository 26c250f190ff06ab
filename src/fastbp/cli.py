"""The ``fastbp`` command line (also ``python -m fastbp``).

Exit status: 0 on success, 1 when a data file, model file or training run
fails (the message on stderr says what to fix), 2 for a usage error, 130
when interrupted with Ctrl-C.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from itertools import zip_longest
from typing import Any, TextIO

import numpy as np

from fastbp import DivergenceError, History, Network, _formats, fann, io
from fastbp._data import Table, read_table
from fastbp._progress import progress_bar
from fastbp._tabular import (
    MAX_AUTO_CLASSES,
    TASKS,
    Encoding,
    MetadataError,
    detect_task,
    is_number,
    row_id_columns,
)
from fastbp._training import stop_message
from fastbp._validation import MAX_SEED
from fastbp.activations import HIDDEN_ACTIVATIONS


class CommandError(Exception):
    """A failure to report on stderr with exit status 1."""


class UsageError(Exception):
    """A usage error found after parsing: the command's usage and exit status 2."""


# Stop once the monitored loss has not improved by TOL for PATIENCE epochs.
PATIENCE, TOL = 20, 1e-4


# -- demo -------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from fastbp import demo

    demo.run(sys.stdout)
    return 0


# -- train ------------------------------------------------------------------


def _layers(text: str) -> list[int]:
    try:
        widths = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer widths such as 64,32; got {text!r}"
        ) from None
    if any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(f"layer widths must be at least 1; got {text!r}")
    return widths


def _whole_number(text: str, low: int, high: int | None = None) -> int:
    """``text`` as an integer in [low, high]; a usage error saying so otherwise."""
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if value < low or (high is not None and value > high):
        bounds = f"of at least {low}" if high is None else f"from {low} to {high}"
        raise argparse.ArgumentTypeError(f"expected a whole number {bounds}; got {text!r}")
    return value


def _positive(text: str) -> int:
    return _whole_number(text, 1)


def _seed(text: str) -> int:
    return _whole_number(text, 0, MAX_SEED)


def _real_number(text: str, valid: Callable[[float], bool], expected: str) -> float:
    """``text`` as a float that is ``valid``; a usage error saying what is ``expected``."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not valid(value):
        raise argparse.ArgumentTypeError(f"expected {expected}; got {text!r}")
    return value


def _rate(text: str) -> float:
    return _real_number(text, lambda v: math.isfinite(v) and v > 0, "a finite number > 0")


def _penalty(text: str) -> float:
    return _real_number(text, lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")


def _fraction(text: str) -> float:
    return _real_number(text, lambda v: 0.0 <= v < 1.0, "a number in [0, 1)")


def _split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, int(round(n * fraction))) if fraction > 0 else 0
    if n_val >= n:
        raise CommandError(
            f"a validation fraction of {fraction} of {n} rows leaves no rows for one side; "
            "use --val-fraction 0 to train on everything"
        )
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _task(args: argparse.Namespace, table: Table) -> tuple[str, str, str]:
    """The target column, the task and the reason for it."""
    target = args.target
    if target is None:
        if "y" not in table.names or table.has_header:
            raise UsageError(f"name the target column of {args.data} with --target COL")
        target = "y"
    column = table.columns[table.index(target)]
    if column.dtype.kind == "f":
        table.matrix([target])  # raises if a target value is NaN or infinite
    task, reason = detect_task(column)
    if args.task is not None:
        task, reason = args.task, "chosen with --task"
    if task == "regression" and column.dtype.kind != "f":
        raise CommandError(
            f"{args.data}: the target {target!r} holds text, so it cannot be a regression target"
        )
    return target, task, reason


def _columns_option(table: Table, option: str, text: str) -> list[str]:
    """The columns named by ``--features``/``--drop``/``--keep`` (comma-separated), checked."""
    names = [table.names[table.index(name.strip())] for name in text.split(",") if name.strip()]
    if not names:
        raise CommandError(f"{option} needs one or more column names, separated by commas")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise CommandError(f"{option} names {', '.join(map(repr, repeated))} more than once")
    return names


def _features(args: argparse.Namespace, table: Table, target: str) -> list[str]:
    """The feature columns: --features (default: every column), less --drop and the target."""
    target = table.names[table.index(target)]
    chosen = [name for name in table.names if name != target]
    if args.features is not None:
        chosen = _columns_option(table, "--features", args.features)
        if target in chosen:
            raise CommandError(f"--features names the target {target!r}; it cannot be a feature")
    if args.drop is not None:
        dropped = _columns_option(table, "--drop", args.drop)
        if target in dropped:
            raise CommandError(f"--drop names the target {target!r}; choose another --target")
        chosen = [name for name in chosen if name not in dropped]
    if not chosen:
        raise CommandError(f"{args.data}: no feature columns are left besides {target!r}")
    return chosen


def _check_out(path: str) -> None:
    """Refuse an output path that cannot be written, before any work is done."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise CommandError(f"--out {path} is a directory; give a file name")
    if not os.path.isdir(folder):
        raise CommandError(f"--out {path}: the directory {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise CommandError(f"--out {path}: the directory {folder} is not writable")


def _train(args: argparse.Namespace) -> int:
    _check_out(args.out)
    if _formats.is_fann_data(args.data):
        return _train_fann(args)
    table = read_table(args.data)
    target, task, reason = _task(args, table)
    train_rows, val_rows = _split(table.n_rows, args.val_fraction, args.seed)
    features = _features(args, table, target)
    encoding = Encoding.fit(table, target, task, train_rows, features)
    X, Y = encoding.inputs(table), encoding.targets(table)
    X_train, Y_train, X_val, Y_val = X[train_rows], Y[train_rows], X[val_rows], Y[val_rows]
    train_table, val_table = _rows(table, train_rows), _rows(table, val_rows)
    classes = encoding.classes
    detail = f"{len(classes)} classes" if classes is not None else "values"
    print(f"task: {task} of {encoding.target!r} ({detail}; {reason})")
    for line in encoding.report(table):
        print(line)
    for name, why in row_id_columns(table, features):
        print(f"warning: column {name!r} looks like a row ID ({why}); --drop {name} leaves it out")

    net = Network(
        [encoding.n_inputs, *args.layers, encoding.n_outputs],
        activation=args.activation or "relu",
        output_activation="softmax" if classes is not None else "identity",
        loss="cross_entropy" if classes is not None else "squared_error",
        seed=args.seed,
    )
    print(
        f"network: {'-'.join(map(str, net.sizes))}, {net.activation} hidden layers, "
        f"{net.output_activation} output, {net.loss_name}; "
        f"{len(train_rows)} training rows, {len(val_rows)} validation rows",
        flush=True,
    )
    history = _fit(
        args,
        net,
        (X_train, Y_train),
        (X_val, Y_val),
        lambda n: encoding.score(n.predict(X_val), val_table),
        encoding.score_name,
    )

    train_score = encoding.score(net.predict(X_train), train_table)
    print(_metrics("training", net.loss(X_train, Y_train), train_score, encoding))
    # The network holds the best epoch's parameters: measure them, not the last epoch's.
    score, rows = train_score, train_table
    if len(val_rows):
        score, rows = encoding.score(net.predict(X_val), val_table), val_table
        print(_metrics("validation", net.loss(X_val, Y_val), score, encoding))
    _check_baseline(args, encoding, Y_train, score, rows, len(val_rows) > 0)
    metadata = {**encoding.to_metadata(), "score_name": encoding.score_name}
    _save(args, net, history, metadata, len(train_rows), len(val_rows))
    return 0


def _train_fann(args: argparse.Namespace) -> int:
    """Train on a FANN data file as FANN does: its inputs and outputs as they are."""
    if args.target is not None or args.task is not None:
        raise CommandError(
            f"{args.data} is a FANN data file: its outputs are the targets, so --target and "
            "--task do not apply"
        )
    X, Y = fann.read_data(args.data)
    if Y.shape[1] == 0:
        raise CommandError(f"{args.data} has no outputs to train on")
    train_rows, val_rows = _split(len(X), args.val_fraction, args.seed)
    output = _formats.fann_outputs(Y[train_rows])
    net = Network(
        [X.shape[1], *args.layers, Y.shape[1]],
        activation=args.activation or "tanh",
        output_activation=output,
        seed=args.seed,
    )
    print(
        f"network: {'-'.join(map(str, net.sizes))}, {net.activation} hidden layers, "
        f"{output} output (from the outputs' range), squared error; FANN data, "
        f"{len(train_rows)} training rows, {len(val_rows)} validation rows",
        flush=True,
    )
    X_val, Y_val = X[val_rows], Y[val_rows]
    train = X[train_rows], Y[train_rows]
    # FANN's measure is the MSE, lower is better: the score to maximise is its negative.
    history = _fit(
        args, net, train, (X_val, Y_val), lambda n: -_formats.mse(n.predict(X_val), Y_val), "mse"
    )
    mse = _formats.mse(net.predict(train[0]), train[1])
    print(f"{'training:':<12} loss {net.loss(*train):.4f}, MSE {mse:.6g}")
    rows = (X_val, Y_val) if len(val_rows) else train
    if len(val_rows):
        mse = _formats.mse(net.predict(X_val), Y_val)
        print(f"{'validation:':<12} loss {net.loss(X_val, Y_val):.4f}, MSE {mse:.6g}")
    # The best constant is the rows' own mean of each output.
    baseline_mse = _formats.mse(np.broadcast_to(rows[1].mean(axis=0), rows[1].shape), rows[1])
    if mse >= baseline_mse:
        _warn_baseline(args, len(val_rows) > 0, "a constant", f"MSE {baseline_mse:.6g}")
    metadata = {"source": "FANN data", "score_name": "mse"}
    _save(args, net, history, metadata, len(train_rows), len(val_rows))
    return 0


_Arrays = tuple[np.ndarray, np.ndarray]


def _fit(
    args: argparse.Namespace,
    net: Network,
    train: _Arrays,
    val: _Arrays,
    val_score: Callable[[Network], float],
    score_name: str,
) -> History:
    """Train ``net`` as the options say, measuring the validation rows (if any)
    with ``val_score`` after each epoch into ``history.val_score``.

    Early stopping monitors the validation loss (smoother than a score on a
    few rows) and restores the best epoch's parameters; without validation
    rows it stops once the training loss stalls.  The inputs (and a
    regression's targets) are standardised, so an overflow once training has
    moved the parameters means the learning rate is too large."""
    measured = len(val[0]) > 0
    initial, reported, scores = net.params.copy(), [], []
    with progress_bar(
        args.epochs,
        len(train[0]),
        not args.quiet,
        desc="training",
        score_name=f"val_{score_name}",
        digits=4,
        terminal_only=True,
    ) as progress:

        def report(epoch: int, logs: dict[str, float]) -> None:
            reported.append(epoch)
            if measured:
                logs["val_score"] = val_score(net)
                scores.append(logs["val_score"])
            progress.update(logs)

        try:
            history = net.train(
                *train,
                epochs=args.epochs,
                batch_size=_batch_size(args),
                learning_rate=args.lr,
                seed=args.seed,
                optimizer=args.optimizer,
                alpha=args.alpha,
                validation_data=val if measured else None,
                early_stopping=args.early_stopping and measured,
                tol=TOL,
                n_iter_no_change=PATIENCE if args.early_stopping else None,
                callback=report,
            )
        except DivergenceError as exc:
            raise CommandError(f"{exc} (--lr {args.lr})") from None
        except ValueError:  # measuring an epoch overflowed
            if np.array_equal(net.params, initial):
                raise
            raise _diverged(args, len(reported) + 1) from None
    history.val_score[:] = scores
    epoch = _first_overflow(history, _final_loss(net, train))
    if epoch is not None:
        raise _diverged(args, epoch)
    stopped = stop_message(history)
    if stopped is not None:
        print(stopped)
    return history


def _diverged(args: argparse.Namespace, epoch: int) -> CommandError:
    return CommandError(
        f"training diverged in epoch {epoch}: the network's outputs overflowed after its "
        "updates, so the learning rate is too large for the data (which fastbp train "
        f"standardises); try a smaller one (--lr {args.lr})"
    )


def _final_loss(net: Network, train: _Arrays) -> float:
    """The training loss after the last update; infinity where the outputs overflow."""
    try:
        return net.loss(*train)
    except ValueError:
        return math.inf


def _first_overflow(history: History, final_loss: float) -> int | None:
    """The first epoch (from 1) after which a measured value is not finite, if any."""
    per_epoch = zip_longest(history.val_loss, history.val_score, fillvalue=0.0)
    for epoch, values in enumerate(per_epoch, start=1):
        if not all(map(math.isfinite, values)):
            return epoch
    return None if math.isfinite(final_loss) else len(history)


def _batch_size(args: argparse.Namespace) -> int | None:
    """The batch size training uses: --batch-size, or full batches for rprop and lbfgs."""
    return None if args.optimizer in ("rprop", "lbfgs") else args.batch_size


def _check_baseline(
    args: argparse.Namespace,
    encoding: Encoding,
    Y_train: np.ndarray,
    score: float,
    rows: Table,
    validated: bool,
) -> None:
    """Warn when ``score`` on ``rows`` is no better than a constant prediction's."""
    if encoding.classes is None:
        # No constant does better than R^2 0 (the rows' own mean scores exactly 0).
        if score <= 0:
            _warn_baseline(args, validated, "a constant", "R^2 0 at best")
        return
    majority = np.eye(len(encoding.classes))[np.argmax(Y_train.sum(axis=0))]
    baseline = np.tile(majority, (rows.n_rows, 1))
    baseline_score = encoding.score(baseline, rows)
    if score <= baseline_score:
        what = f"always predicting the most frequent class {encoding.decode(majority[None])[0]!r}"
        _warn_baseline(args, validated, what, _score_text(baseline_score, encoding))


def _warn_baseline(args: argparse.Namespace, validated: bool, what: str, score: str) -> None:
    rows = "validation" if validated else "training"
    print(
        f"warning: on the {rows} rows the model is no better than {what} ({score}); "
        f"try another --lr (now {args.lr}), more --epochs or other --layers"
    )


def _save(
    args: argparse.Namespace,
    net: Network,
    history: History,
    metadata: dict[str, Any],
    n_train: int,
    n_validation: int,
) -> None:
    """Save the model with its history, and ``metadata`` and the options as its metadata."""
    metadata = dict(metadata)
    metadata.update(
        data=os.path.basename(args.data),
        epochs=args.epochs,
        epochs_run=len(history),
        best_epoch=None if history.best_epoch is None else history.best_epoch + 1,
        batch_size=_batch_size(args),
        optimizer=args.optimizer,
        learning_rate=args.lr,
        alpha=args.alpha,
        early_stopping=args.early_stopping,
        seed=args.seed,
        n_train=n_train,
        n_validation=n_validation,
        val_loss=history.val_loss or None,
        val_score=history.val_score or None,
    )
    try:
        net.save(args.out, history=history, metadata=metadata)
    except OSError as exc:
        raise CommandError(f"could not write the model to {args.out}: {exc.strerror}") from None
    print(f"saved the model to {args.out}")


def _rows(table: Table, rows: np.ndarray) -> Table:
    return Table(table.path, table.names, [c[rows] for c in table.columns], table.has_header)


def _score_text(score: float, encoding: Encoding) -> str:
    return f"accuracy {score:.1%}" if encoding.classes is not None else f"R^2 {score:.4f}"


def _metrics(label: str, loss: float, score: float, encoding: Encoding) -> str:
    return f"{label + ':':<12} loss {loss:.4f}, {_score_text(score, encoding)}"


# -- predict, info ----------------------------------------------------------


def _load(path: str, stepwise: str = "refuse") -> tuple[Network, dict[str, Any]]:
    """A fastbp model file, or a FANN ``.net`` network, and its header."""
    try:
        if _formats.is_fann_net(path):
            return _formats.load_fann_net(path, stepwise)
        model = io.load(path)  # a fitted estimator's file gives the estimator
        return getattr(model, "network_", model), io.load_metadata(path)
    except FileNotFoundError:
        raise CommandError(f"{path}: no such model file") from None
    except OSError as exc:
        raise CommandError(f"could not read the model {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        hint = "; on the command line: --stepwise exact" if "stepwise='exact'" in str(exc) else ""
        raise CommandError(f"could not load the model: {exc}{hint}") from None


def _encoding(net: Network, header: dict[str, Any]) -> Encoding | None:
    """The encoding ``fastbp train`` stored in the model's metadata, checked against
    the network; None for metadata that is not an object with a ``task``."""
    metadata = _metadata(header)
    if "task" not in metadata:
        return None
    return Encoding.from_metadata(metadata, net.n_inputs, net.n_outputs)


def _predict(args: argparse.Namespace) -> int:
    net, header = _load(args.model, args.stepwise)
    try:
        encoding = _encoding(net, header)
    except MetadataError as exc:
        raise CommandError(f"{args.model}: {exc} ({_ENCODING_NOTE})") from None
    if encoding is None and (args.keep is not None or args.proba):
        option = "--keep" if args.keep is not None else "--proba"
        raise CommandError(
            f"{option} applies to models written by fastbp train; {args.model} has no "
            "encoding of named columns"
        )
    if encoding is not None:
        table = read_table(args.data)
        outputs = net.predict(encoding.inputs(table))
        names, rows = [encoding.target], [[v] for v in encoding.decode(outputs)]
        if args.proba:
            names, rows = _with_probabilities(encoding, outputs, names, rows)
        if args.keep is not None:
            kept = _columns_option(table, "--keep", args.keep)
            names, rows = _with_kept(table, kept, names, rows)
        if encoding.has_target(table):
            score = _score_text(encoding.score(outputs, table), encoding)
            print(
                f"{args.data} has the target column {encoding.target!r}: {score}", file=sys.stderr
            )
    else:
        outputs = _raw_outputs(args, net, header)
        names = [f"output_{k + 1}" for k in range(net.n_outputs)]
        rows = outputs.tolist()
    if args.out is None:
        _write_csv(sys.stdout, names, rows)
    else:
        try:
            with open(args.out, "w", newline="", encoding="utf-8") as f:
                _write_csv(f, names, rows)
        except OSError as exc:
            raise CommandError(f"could not write {args.out}: {exc.strerror}") from None
        print(f"wrote {len(rows)} predictions to {args.out}", file=sys.stderr)
    return 0


def _with_probabilities(
    encoding: Encoding, outputs: np.ndarray, names: list[str], rows: list[list[Any]]
) -> tuple[list[str], list[list[Any]]]:
    """``names`` and ``rows`` with a column ``proba_<label>`` per class: the network's
    softmax outputs."""
    if encoding.classes is None:
        raise CommandError(
            f"--proba applies to classification; this model is a regression of {encoding.target!r}"
        )
    columns = [f"proba_{label}" for label in encoding.classes]
    if encoding.target in columns:
        raise CommandError(f"--proba would write a second column named {encoding.target!r}")
    return names + columns, [row + p for row, p in zip(rows, outputs.tolist())]


def _with_kept(
    table: Table, kept: list[str], names: list[str], rows: list[list[Any]]
) -> tuple[list[str], list[list[Any]]]:
    """``names`` and ``rows`` after the columns ``kept`` of ``table``, as they were
    read (whole numbers without a decimal point; a missing cell empty)."""
    clash = [name for name in kept if name in names]
    if clash:
        raise CommandError(
            f"--keep {clash[0]}: the output already has a column named {clash[0]!r} "
            "(the predictions); rename that column in the data to keep it"
        )
    columns = [[_cell(v) for v in table.columns[table.index(name)]] for name in kept]
    return kept + names, [[*values, *row] for *values, row in zip(*columns, rows)]


def _cell(value: Any) -> Any:
    """A value read from a data file, written back as a CSV cell."""
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return ""
        return str(int(number)) if number.is_integer() and abs(number) < 2**53 else repr(number)
    return str(value)


def _raw_outputs(args: argparse.Namespace, net: Network, header: dict[str, Any]) -> np.ndarray:
    """The outputs of a model without fastbp train's encoding (a FANN network, say):
    every column of the data is an input, but a FANN data file's outputs; a FANN
    network's scaling block is applied around it as fann_scale_input and
    fann_descale_output do."""
    targets = None
    if _formats.is_fann_data(args.data):
        X, targets = fann.read_data(args.data)
        what = "inputs"
    else:
        table = read_table(args.data)
        X, what = table.matrix(table.names), "columns"
    if X.shape[1] != net.n_inputs:
        raise CommandError(f"{args.data} has {X.shape[1]} {what}; the model expects {net.n_inputs}")
    scaling = _formats.fann_scaling(header)
    outputs = net.predict(X if scaling is None else scaling.scale_inputs(X))
    if scaling is not None:
        outputs = scaling.unscale_outputs(outputs)
    if targets is not None and targets.shape[1] == net.n_outputs and len(targets):
        print(f"{args.data} has outputs: MSE {_formats.mse(outputs, targets):.6g}", file=sys.stderr)
    return outputs


def _write_csv(f: TextIO, names: list[str], rows: list[list[Any]]) -> None:
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(names)
    writer.writerows([[f"{v:.10g}" if isinstance(v, float) else v for v in row] for row in rows])


def _info_lines(path: str, net: Network, header: dict[str, Any]) -> Iterator[str]:
    n_weights = sum(W.size for W in net.weights)
    n_biases = net.params.size - n_weights
    if _formats.is_fann_net(path):
        yield f"{path}: FANN network ({header['format']})"
    else:
        yield (
            f"{path}: fastbp model, format {header['format_version']}, "
            f"written by fastbp {header.get('fastbp_version')}"
        )
    yield (
        f"architecture: {'-'.join(map(str, net.sizes))}, {net.activation} hidden layers, "
        f"{net.output_activation} output, {net.loss_name} loss, {net.dtype.name}"
    )
    yield f"parameters:   {net.params.size} ({n_weights} weights, {n_biases} biases)"
    if _formats.is_fann_net(path):
        yield from _fann_lines(header["metadata"])
        return
    try:
        encoding = _encoding(net, header)
    except MetadataError as exc:
        yield f"metadata:     not usable by fastbp predict: {exc} ({_ENCODING_NOTE})"
    else:
        if encoding is not None:
            yield from _task_lines(encoding, _metadata(header))
    try:
        yield from _history_lines(header)
    except MetadataError as exc:
        yield f"history:      {exc}"


# What makes the command line read a model's metadata as its own.
_ENCODING_NOTE = "metadata with a 'task' is read as the encoding that fastbp train stores"
# The metadata fields of fastbp train's "training:" line in fastbp info.
TRAINING_FIELDS = ("data", "n_train", "n_validation", "batch_size", "learning_rate")


def _task_lines(encoding: Encoding, metadata: dict[str, Any]) -> Iterator[str]:
    if encoding.classes is not None:
        labels = ", ".join(map(str, encoding.classes))
        yield f"task:         classification of {encoding.target!r} into {labels}"
    else:
        yield f"task:         regression of {encoding.target!r}"
    yield f"features:     {', '.join(encoding.features)}"
    if encoding.categories is not None:
        assert encoding.fill is not None
        text = [
            f"{name} ({len(values)} categories, missing -> {encoding.fill[name]!r})"
            for name, values in encoding.categories.items()
        ]
        yield f"text:         one-hot encoded: {', '.join(text)}; {encoding.n_inputs} inputs"
    yield "missing:      a number gets the training rows' mean (x_mean), text its fill category"
    if all(field in metadata for field in TRAINING_FIELDS):
        data, n_train, n_validation, batch_size, rate = (metadata[f] for f in TRAINING_FIELDS)
        yield (
            f"training:     {data}, {n_train} training and {n_validation} validation rows, "
            f"{'full batches' if batch_size is None else f'batch size {batch_size}'}, "
            f"learning rate {rate}"
        )
        optimizer, alpha, best = (metadata.get(f) for f in ("optimizer", "alpha", "best_epoch"))
        if optimizer is not None:
            kept = f"; kept the parameters of epoch {best}" if best is not None else ""
            yield f"              optimizer {optimizer}, alpha {alpha}{kept}"


def _history_lines(header: dict[str, Any]) -> Iterator[str]:
    curves = _curves(header)
    history = curves["loss"]
    if history is None:
        yield "history:      none stored"
        return
    yield f"history:      {len(history)} epochs, loss {_span(history)}"
    if curves["val_loss"] is not None:
        yield f"              validation loss {_span(curves['val_loss'])}"
    if curves["val_score"] is not None:
        name = _metadata(header).get("score_name")
        name = name if isinstance(name, str) else "score"
        yield f"              validation {name} {_span(curves['val_score'])}"


def _fann_lines(metadata: dict[str, Any]) -> Iterator[str]:
    missing = metadata["missing_connections"]
    if missing:
        yield (
            f"connections:  sparse (connection_rate {metadata['connection_rate']:g}); "
            f"{missing} missing connections are zero weights"
        )
    if metadata["stepwise"]:
        yield (
            f"stepwise:     {', '.join(metadata['stepwise'])} read as the exact functions; "
            f"outputs may move by up to {metadata['stepwise_bound']:.3g}"
        )
    scaling = "yes, applied by fastbp predict" if "scaling" in metadata else "no"
    yield f"scaling:      {scaling}"
    training = metadata["training"]
    if "training_algorithm" in training:
        algorithms = ("incremental", "batch", "rprop", "quickprop", "sarprop")
        code = training["training_algorithm"]
        name = algorithms[code] if code < len(algorithms) else f"code {code}"
        yield f"training:     FANN {name}, learning rate {training.get('learning_rate')}"


def _metadata(header: dict[str, Any]) -> dict[str, Any]:
    """The header's metadata if it is a JSON object, else an empty one."""
    metadata = header.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _curves(header: dict[str, Any]) -> dict[str, list[float] | None]:
    """The stored learning curves (None where absent); MetadataError if one is malformed."""
    metadata = _metadata(header)
    return {
        "loss": _curve(header.get("history"), "history", "field"),
        "val_loss": _curve(metadata.get("val_loss"), "val_loss", "metadata field"),
        "val_score": _curve(metadata.get("val_score"), "val_score", "metadata field"),
    }


def _curve(values: Any, name: str, where: str) -> list[float] | None:
    if values is None or values == []:
        return None
    if not isinstance(values, list) or not all(map(is_number, values)):
        raise MetadataError(name, "a list of finite numbers, one per epoch", values, where)
    return [float(v) for v in values]


def _span(values: list[float]) -> str:
    return f"{values[0]:.4g} -> {values[-1]:.4g}"


def _info(args: argparse.Namespace) -> int:
    net, header = _load(args.model, args.stepwise)
    if args.format == "json":
        print(json.dumps(header, indent=2))
    else:
        for line in _info_lines(args.model, net, header):
            print(line)
    if args.plot is not None:
        from fastbp import plot

        try:
            curves = _curves(header)
        except MetadataError as exc:
            raise CommandError(f"{args.model}: {exc}") from None
        if curves["loss"] is None:
            raise CommandError(f"{args.model} stores no training history to plot")
        try:
            plot.learning_curve(
                curves, args.plot, title=f"Learning curve of {os.path.basename(args.model)}"
            )
        except ImportError as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(f"could not write {args.plot}: {exc}") from None
        print(f"saved the learning curve to {args.plot}", file=sys.stderr)
    return 0


# -- export -----------------------------------------------------------------

EXPORT_FORMATS = ("fann", "onnx", "c")


def _export(args: argparse.Namespace) -> int:
    if os.path.isdir(args.out):
        raise CommandError(f"--out {args.out} is a directory; name the file to write")
    net, header = _load(args.model, args.stepwise)
    try:
        encoding = _encoding(net, header)
    except MetadataError as exc:
        raise CommandError(f"{args.model}: {exc} ({_ENCODING_NOTE})") from None
    try:
        _formats.export(args.out, args.format, net, header, encoding)
    except ImportError as exc:
        raise CommandError(f'{exc} (pip install "fastbp[onnx]")') from None
    except OSError as exc:
        raise CommandError(f"could not write {args.out}: {exc.strerror or exc}") from None
    print(f"wrote {args.out} ({_formats.describe(encoding, args.format)})", file=sys.stderr)
    return 0


# -- trace ------------------------------------------------------------------

TRACE_FILE_KEYS = ("weights", "biases", "x", "t")


def _trace_setup(path: str) -> tuple[Network, Any, Any, dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CommandError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(spec, dict) or any(key not in spec for key in TRACE_FILE_KEYS):
        raise CommandError(
            f"{path}: expected a JSON object with the keys {', '.join(TRACE_FILE_KEYS)}"
        )
    _check_trace_types(path, spec)
    try:
        weights = spec["weights"]
        sizes = [len(weights[0])] + [len(W[0]) for W in weights]
        names = {k: spec[k] for k in ("activation", "output_activation", "loss") if k in spec}
        net = Network(sizes, **names, weights=weights, biases=spec["biases"])
    except (TypeError, ValueError, IndexError, KeyError) as exc:
        raise CommandError(f"{path}: does not describe a network ({exc})") from None
    options = {k: spec[k] for k in ("learning_rate", "train_biases") if k in spec}
    return net, spec["x"], spec["t"], options


# The keys of a trace file that hold numbers or (nested) lists of numbers.
TRACE_NUMBER_KEYS = (*TRACE_FILE_KEYS, "learning_rate")


def _check_trace_types(path: str, spec: dict[str, Any]) -> None:
    """Raise CommandError unless a trace file's numbers are JSON numbers and its
    ``train_biases`` a JSON boolean: no string or truthiness stands in for either."""
    for key in TRACE_NUMBER_KEYS:
        if key in spec and not _numbers_only(spec[key]):
            raise CommandError(
                f"{path}: {key} must hold finite JSON numbers (not strings, booleans or "
                f"null); got {json.dumps(spec[key])[:80]}"
            )
    if "train_biases" in spec and not isinstance(spec["train_biases"], bool):
        shown = json.dumps(spec["train_biases"])[:80]
        raise CommandError(f"{path}: train_biases must be true or false; got {shown}")


def _numbers_only(value: Any) -> bool:
    """Whether ``value`` is a number or nested lists whose every item is a number."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(item)
        elif not is_number(item):
            return False
    return True


def _trace(args: argparse.Namespace) -> int:
    from fastbp.classic import WORKED_T, WORKED_X, worked_network
    from fastbp.tracing import trace

    if args.weights is None:
        net, x, t = worked_network(), WORKED_X[0], WORKED_T[0]
        options: dict[str, Any] = {"learning_rate": 0.5, "train_biases": False}
    else:
        net, x, t, options = _trace_setup(args.weights)
    if args.learning_rate is not None:
        options["learning_rate"] = args.learning_rate
    if args.train_biases:
        options["train_biases"] = True
    try:
        step = trace(net, x, t, **options)
    except (TypeError, ValueError) as exc:
        raise CommandError(f"cannot trace this network: {exc}") from None
    print(json.dumps(step.to_dict(), indent=2) if args.format == "json" else step)
    return 0


# -- the parser -------------------------------------------------------------


def _command(
    commands: Any, name: str, run: Callable[[argparse.Namespace], int], help: str, examples: str
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=help,
        description=help[0].upper() + help[1:] + ".",
        epilog="examples:\n" + examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run, parser=parser)
    return parser


def _bench(args: argparse.Namespace) -> int:
    from fastbp import bench

    return bench.run_cli(args, bench.command_line(args, "python -m fastbp bench"))


def _add_bench(commands: Any) -> None:
    from fastbp.bench import add_arguments

    parser = commands.add_parser(
        "bench",
        help="time fastbp against the reference, NumPy, scikit-learn and PyTorch",
        description="Run issue 3's workloads W1-W5 and the memory check side by side, "
        "print a table of times and ratios and check each target (MET / NOT MET).",
        epilog="example: python -m fastbp bench --quick --only W2,W4 --markdown bench.md",
    )
    add_arguments(parser)
    parser.set_defaults(run=_bench, parser=parser)


def _add_demo(commands: Any) -> None:
    _command(
        commands,
        "demo",
        _demo,
        "train the worked example, XOR and a digit classifier; show the speed-up",
        "  fastbp demo\n  python -m fastbp demo",
    )


def _add_train(commands: Any) -> None:
    train = _command(
        commands,
        "train",
        _train,
        "train a network on a CSV, .npy or .npz file and save it",
        "  fastbp train iris.csv --target species --out iris.fbp\n"
        "  fastbp train houses.csv --target price --layers 64,32 --epochs 50 --lr 0.005\n"
        "  fastbp train data.npz --layers 16 --task regression   # arrays X and y\n"
        "  fastbp train data.npy --target -1                      # last column\n"
        "  fastbp train wine.csv --target quality --drop id\n\n"
        "The target decides the task unless --task is given: text labels, or at most\n"
        f"{MAX_AUTO_CLASSES} distinct whole numbers, mean classification (softmax output,\n"
        "cross-entropy, one-hot targets), anything else regression (identity output,\n"
        "squared error).\n"
        "Features and regression targets are standardised with the training rows' mean\n"
        "and standard deviation; the model file keeps them, and the class labels.\n"
        "A CSV cell that is empty or NA, N/A, NaN, null, None, ? ... is missing: a missing\n"
        "number gets the training rows' mean, missing text the most frequent category.\n"
        "Text columns are one-hot encoded (a category unseen in training: all zeros).\n"
        "A column of distinct whole numbers in steps of one, or of distinct text named\n"
        "like an ID, is reported as a likely row ID: leave it out with --drop.",
    )
    train.add_argument("data", metavar="DATA", help="CSV with a header row, .npy or .npz file")
    train.add_argument(
        "--target",
        metavar="COL",
        help="the target column: a CSV column name, or an index for .npy (default: y of .npz)",
    )
    train.add_argument("--task", choices=TASKS, help="override the task chosen from the target")
    train.add_argument(
        "--features",
        metavar="COL,COL",
        help="the feature columns of a CSV (default: every column but the target)",
    )
    train.add_argument(
        "--drop",
        metavar="COL,COL",
        help="columns that are not features (an ID, say); silences the row-ID warning",
    )
    _add_train_settings(train)
    train.add_argument(
        "--out",
        default="model.fbp",
        metavar="FILE",
        help="model file to write (default: model.fbp)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")


def _add_train_settings(train: argparse.ArgumentParser) -> None:
    """The network and training options of ``fastbp train``."""
    train.add_argument(
        "--layers",
        type=_layers,
        default=[32],
        metavar="W1,W2,...",
        help="hidden layer widths (default: 32)",
    )
    train.add_argument(
        "--activation",
        choices=HIDDEN_ACTIVATIONS,
        help="activation of the hidden layers (default: relu; tanh for a FANN .data file)",
    )
    train.add_argument(
        "--optimizer",
        choices=("adam", "sgd", "rprop", "lbfgs"),
        default="adam",
        help="adam (default), plain sgd, rprop (FANN's iRprop-, full batches) or lbfgs "
        "(L-BFGS, full batches; --epochs bounds its iterations)",
    )
    train.add_argument(
        "--lr",
        type=_rate,
        default=0.003,
        metavar="RATE",
        help="learning rate (default: 0.003, for adam; sgd wants more, rprop and lbfgs ignore it)",
    )
    train.add_argument(
        "--alpha",
        type=_penalty,
        default=1e-4,
        metavar="A",
        help="L2 penalty on the weights, as scikit-learn's MLP (default: 1e-4)",
    )
    train.add_argument(
        "--epochs",
        type=_positive,
        default=500,
        metavar="N",
        help="the most passes over the data (default: 500; early stopping ends sooner)",
    )
    train.add_argument(
        "--early-stopping",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"stop once the validation loss (without validation rows: the training loss) "
        f"has not improved by {TOL:g} for {PATIENCE} epochs, keeping the best epoch's "
        "parameters (default); --no-early-stopping runs every epoch",
    )
    train.add_argument(
        "--batch-size",
        type=_positive,
        default=32,
        metavar="N",
        help="samples per update (default: 32; rprop and lbfgs use all)",
    )
    train.add_argument(
        "--val-fraction",
        type=_fraction,
        default=0.2,
        metavar="F",
        help="share of the rows held out for validation, 0 for none (default: 0.2)",
    )
    train.add_argument(
        "--seed", type=_seed, default=0, metavar="N", help="seed of the split, weights and shuffles"
    )


def _add_predict(commands: Any) -> None:
    predict = _command(
        commands,
        "predict",
        _predict,
        "predict with a saved model; write a CSV of labels or values",
        "  fastbp predict iris.fbp new_flowers.csv\n"
        "  fastbp predict iris.fbp new_flowers.csv --out predictions.csv\n"
        "  fastbp predict iris.fbp new_flowers.csv --keep id --proba\n\n"
        "CSV columns are matched to the model's features by name (others are ignored);\n"
        ".npy/.npz columns by position.",
    )
    predict.add_argument("model", metavar="MODEL", help="a model file written by fastbp train")
    predict.add_argument("data", metavar="DATA", help="CSV, .npy or .npz file with the features")
    predict.add_argument(
        "--out", metavar="CSV", help="CSV file to write (default: standard output)"
    )
    predict.add_argument(
        "--keep",
        metavar="COL,COL",
        help="columns of the data to copy into the output before the predictions (an ID, say)",
    )
    predict.add_argument(
        "--proba",
        action="store_true",
        help="a classifier: also write each class's probability (columns proba_<label>)",
    )
    _add_stepwise(predict)


def _add_stepwise(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stepwise",
        choices=("refuse", "exact"),
        default="refuse",
        help="a FANN .net model with FANN's stepwise sigmoids: refuse it (default), or read "
        "them as the exact functions (outputs move slightly; the warning says how far)",
    )


def _add_export(commands: Any) -> None:
    export = _command(
        commands,
        "export",
        _export,
        "write a model as a FANN network, an ONNX model or a standalone C file",
        "  fastbp export iris.fbp --format onnx --out iris.onnx\n"
        "  fastbp export xor.fbp --format fann --out xor.net\n"
        "  fastbp export xor.net --format c --out xor.c\n\n"
        "The exported file maps the raw features to the model's outputs: fastbp train's\n"
        "standardisation is folded into the weights (ONNX, C) or written as FANN's\n"
        "scaling block (apply it with fann_scale_input/fann_descale_output). Classifiers\n"
        "export their class probabilities. FANN has no relu, leaky_relu or softmax.",
    )
    export.add_argument("model", metavar="MODEL", help="a fastbp model file or a FANN .net file")
    export.add_argument("--format", choices=EXPORT_FORMATS, required=True)
    export.add_argument("--out", required=True, metavar="FILE", help="the file to write")
    _add_stepwise(export)


def _add_info(commands: Any) -> None:
    info = _command(
        commands,
        "info",
        _info,
        "describe a saved model: architecture, parameters, task and training history",
        "  fastbp info iris.fbp\n"
        "  fastbp info iris.fbp --format json\n"
        "  fastbp info iris.fbp --plot curve.png   # needs matplotlib",
    )
    info.add_argument("model", metavar="MODEL", help="a model file")
    info.add_argument("--format", choices=("text", "json"), default="text")
    info.add_argument("--plot", metavar="PNG", help="also save the learning curve as a PNG")
    _add_stepwise(info)


def _add_trace(commands: Any) -> None:
    trace = _command(
        commands,
        "trace",
        _trace,
        "print one back-propagation step as the chain rule, neuron by neuron",
        "  fastbp trace                      # the classic 2-2-2 worked example\n"
        "  fastbp trace --format json\n"
        "  fastbp trace --weights net.json --learning-rate 0.1\n\n"
        'net.json: {"weights": [W1, W2, ...], "biases": [b1, b2, ...], "x": [...],\n'
        '"t": [...]} with W(l) as n_in rows of n_out numbers; optional keys activation,\n'
        "output_activation, loss, learning_rate (0.5) and train_biases (true).",
    )
    trace.add_argument("--weights", metavar="JSON", help="a network and sample of your own")
    trace.add_argument(
        "--learning-rate", type=float, metavar="RATE", help="step size (worked example: 0.5)"
    )
    trace.add_argument("--train-biases", action="store_true", help="update the biases too")
    trace.add_argument("--format", choices=("text", "json"), default="text")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastbp",
        description="Back-propagation neural networks with a typed Cython + BLAS engine.",
        epilog="Run 'fastbp COMMAND --help' for the options and examples of a command.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    commands_in_order = (_add_demo, _add_train, _add_predict, _add_info, _add_export, _add_trace)
    for add in (*commands_in_order, _add_bench):
        add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    Examples
    --------
    >>> from fastbp.cli import main
    >>> main(["trace"])  # doctest: +ELLIPSIS
    One back-propagation step of a 2-2-2 network (sigmoid, sigmoid, squared_error), ...
    ...
      w5      h1 -> o1          0.400000000    0.082167041    0.358916480
    ...
    total error after the update: 0.291027774
    0
    >>> main(["info", "no-such-model.fbp"])
    1
    """
    # Options unknown to the command get the command's usage, not the top level's.
    args, unknown = build_parser().parse_known_args(argv)
    command: argparse.ArgumentParser = args.parser
    if unknown:
        command.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return int(args.run(args))
    except UsageError as exc:
        command.error(str(exc))
    except (CommandError, ValueError) as exc:
        print(f"fastbp {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (fastbp predict ... | head): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print(f"fastbp {args.command}: interrupted", file=sys.stderr)
        return 130
