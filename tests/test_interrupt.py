"""Ctrl-C during a long nogil training run stops it and loses nothing."""

import signal
import subprocess
import sys
import textwrap
import time

import fastbp as fb

CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    import fastbp as fb

    rng = np.random.default_rng(0)
    X = rng.uniform(size=(20_000, 784))
    Y = np.eye(10)[rng.integers(0, 10, size=20_000)]
    net = fb.Network([784, 256, 256, 10], seed=0)
    print("training", flush=True)
    try:
        net.train(X, Y, epochs=1000, batch_size=64, learning_rate=0.1, seed=0)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    else:
        sys.exit("training was not interrupted")
    assert np.isfinite(net.params).all()
    net.save(sys.argv[1])
    print("saved", flush=True)
""")


def test_sigint_stops_training_and_keeps_a_savable_network(tmp_path):
    model = tmp_path / "interrupted.fbp"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(model)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "training"
        time.sleep(1.0)  # inside the first of 1000 epochs of several seconds each
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=10)  # a hang fails here
    finally:
        child.kill()
    assert child.returncode == 0, err
    assert out.split() == ["interrupted", "saved"]
    assert fb.load(model).sizes == (784, 256, 256, 10)
