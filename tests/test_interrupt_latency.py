"""Ctrl-C stops every long call of the engine soon, and leaves whole updates;
the parts that long calls go in compute what one piece did.

The Ctrl-C tests run a child process, as Ctrl-C reaches a real program.  The
latency tests send SIGINT a moment after the child started one long call.  Each
call is a minute or so of arithmetic in one piece -- a full-batch step over
20,000 rows of a 1000-4000-4000-10 network, a predict or loss over 60,000 --
so an engine that looks for signals only between batches or calls answers
only after the call, long after the test's timeout; the engine checks between
parts of such calls and answers within a fraction of a second.  The clock here
is only that timeout: how soon Ctrl-C is answered is measured by
bench/interrupt_latency.py, whose figures the README states.  BLAS runs on one
thread, so that the calls cannot end sooner on a machine with more cores.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import fastbp as fb

# Seconds the child may take, from SIGINT, to stop and exit: far less than any
# of its calls takes in one piece.
TIMEOUT = 10
DELAY = 0.2  # seconds from the start of the call to SIGINT
ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1")

LONG_CALL = textwrap.dedent("""
    import sys
    import time

    import numpy as np

    import fastbp as fb

    call, rows = sys.argv[1], int(sys.argv[2])
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(rows, 1000))
    Y = np.eye(10)[rng.integers(0, 10, size=rows)]
    net = fb.Network([1000, 4000, 4000, 10], seed=0)
    calls = {
        "sgd": lambda: net.train(X, Y, epochs=100, batch_size=None, learning_rate=0.01),
        "rprop": lambda: net.train(X, Y, epochs=100, batch_size=None, optimizer="rprop"),
        "predict": lambda: net.predict(X),
        "loss": lambda: net.loss(X, Y),
        "gradients": lambda: net.gradients(X, Y),
    }
    print("started", flush=True)
    try:
        calls[call]()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    else:
        print("finished", flush=True)
    assert np.isfinite(net.predict(X[:3])).all() and np.isfinite(net.params).all()
""")


def interrupt(call, rows):
    """Send SIGINT DELAY into ``call`` in a child; fail unless it stops within TIMEOUT."""
    child = subprocess.Popen(
        [sys.executable, "-c", LONG_CALL, call, str(rows)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        assert child.stdout.readline().strip() == "started"
        time.sleep(DELAY)
        child.send_signal(signal.SIGINT)
        try:
            out, err = child.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{call} was still running {TIMEOUT} s after SIGINT")
    finally:
        child.kill()
    assert child.returncode == 0, err
    assert out.split() == ["interrupted"], f"{call} was not interrupted: {out!r}"


@pytest.mark.parametrize(
    "call, rows",
    [("sgd", 20_000), ("rprop", 20_000), ("predict", 60_000), ("loss", 60_000),
     ("gradients", 20_000)],
)  # fmt: skip
def test_sigint_stops_a_long_call_long_before_it_could_end(call, rows):
    interrupt(call, rows)


WHOLE_UPDATES = textwrap.dedent("""
    import os
    import signal
    import sys
    import threading

    import numpy as np

    import fastbp as fb

    optimizer = sys.argv[1]
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(6_000, 200))
    Y = rng.uniform(size=(6_000, 10))
    options = dict(batch_size=None, shuffle=False, learning_rate=0.05, optimizer=optimizer)
    net, twin = fb.Network([200, 200, 10], seed=0), fb.Network([200, 200, 10], seed=0)
    updates = 0
    for delay in rng.uniform(0.05, 0.3, size=2):
        threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT)).start()
        try:
            net.train(X, Y, epochs=10_000, **options)
        except KeyboardInterrupt:
            pass
        else:
            sys.exit("training was not interrupted")
        # The twin makes one update after another until it has the same parameters.
        while not np.array_equal(twin.params, net.params):
            twin.train(X, Y, epochs=1, **options)
            updates += 1
            if updates > 1_000:
                sys.exit("the parameters are not those of a whole number of updates")
    print(updates)
""")


@pytest.mark.parametrize("optimizer", ["sgd", "rprop"])
def test_an_interrupted_full_batch_step_leaves_the_last_whole_update(optimizer):
    # Each full-batch step goes in parts with checks between them; SIGINT lands
    # inside one.  Plain SGD would write its update during the backward pass:
    # a step that goes in parts sums the gradient first.
    done = subprocess.run(
        [sys.executable, "-c", WHOLE_UPDATES, optimizer],
        capture_output=True,
        text=True,
        timeout=60,
        env=ENV,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 0


def test_a_full_batch_step_in_parts_is_one_sgd_step_on_the_mean_gradient():
    # 6,000 rows of a 200-200-10 network make a batch that goes in parts.
    rng = np.random.default_rng(0)
    X, Y = rng.uniform(-1, 1, size=(6_000, 200)), rng.uniform(size=(6_000, 10))
    net = fb.Network([200, 200, 10], seed=0)
    expected = net.params - 0.05 * net.flat_gradient(X, Y)
    net.train(X, Y, epochs=1, batch_size=None, shuffle=False, learning_rate=0.05)
    np.testing.assert_allclose(net.params, expected, rtol=1e-12, atol=1e-15)


def test_nan_in_a_batch_that_goes_in_parts_is_found_and_nothing_trains():
    # The engine checks the first layer's products of each part (they are its
    # own narrow loops here) instead of X up front.
    rng = np.random.default_rng(0)
    X, Y = rng.uniform(size=(2_000, 4)), rng.uniform(size=(2_000, 10))
    X[1_500, 2] = np.nan
    net = fb.Network([4, 8, 2000, 10], seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        net.train(X, Y, epochs=2, batch_size=None)
    np.testing.assert_array_equal(net.params, before)
