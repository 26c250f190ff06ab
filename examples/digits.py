"""A 64-32-10 classifier for scikit-learn's 8x8 digits (load_digits, 1,797 images).

Run:  python examples/digits.py [--quick] [--plot curve.png]
"""

import argparse
import sys

import numpy as np

import fastbp as fb

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="fewer epochs")
parser.add_argument("--plot", metavar="PNG", help="save the learning curve (needs matplotlib)")
args = parser.parse_args()

try:
    from sklearn.datasets import load_digits
except ImportError:
    print("skipped: this example needs scikit-learn (pip install scikit-learn)")
    sys.exit(0)

digits = load_digits()
X, labels = digits.data / 16.0, digits.target
rng = np.random.default_rng(0)
order = rng.permutation(len(X))
test, train = order[:360], order[360:]
Y = np.eye(10)[labels]

net = fb.Network([64, 32, 10], activation="tanh", output_activation="softmax",
                 loss="cross_entropy", seed=0)  # fmt: skip
epochs = 5 if args.quick else 60
losses, accuracy = [], []
for epoch in range(epochs):
    losses += net.train(X[train], Y[train], epochs=1, batch_size=16, learning_rate=0.1, seed=epoch)
    accuracy.append(float(np.mean(net.predict(X[test]).argmax(axis=1) == labels[test])))
print(f"{epochs} epochs: training loss {losses[-1]:.4f}, test accuracy {accuracy[-1]:.1%} "
      f"on {len(test)} held-out digits")  # fmt: skip
if args.plot:
    history = {"loss": losses, "val_score": accuracy}
    fb.plot.learning_curve(history, args.plot, title="load_digits, 64-32-10 network")
    print(f"saved {args.plot}")
