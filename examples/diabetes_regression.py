"""Regression on scikit-learn's diabetes data (load_diabetes: 442 patients, 10 features).

Inputs and target are standardised; the network has an identity output and
the squared error.  Reports R^2 on held-out patients, in the target's units.

Run:  python examples/diabetes_regression.py [--quick]
"""

import argparse
import sys

import numpy as np

import fastbp as fb

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="fewer epochs")
args = parser.parse_args()

try:
    from sklearn.datasets import load_diabetes
except ImportError:
    print("skipped: this example needs scikit-learn (pip install scikit-learn)")
    sys.exit(0)

data = load_diabetes()
rng = np.random.default_rng(0)
order = rng.permutation(len(data.target))
test, train = order[:88], order[88:]
x_mean, x_std = data.data[train].mean(axis=0), data.data[train].std(axis=0)
y_mean, y_std = data.target[train].mean(), data.target[train].std()
X = (data.data - x_mean) / x_std
y = (data.target - y_mean) / y_std

net = fb.Network([10, 16, 1], activation="tanh", output_activation="identity", seed=0)
epochs = 30 if args.quick else 100
history = net.train(
    X[train], y[train, None], epochs=epochs, batch_size=16, learning_rate=0.01, seed=0
)
predicted = net.predict(X[test])[:, 0] * y_std + y_mean
truth = data.target[test]
r2 = 1 - np.sum((truth - predicted) ** 2) / np.sum((truth - truth.mean()) ** 2)
rmse = np.sqrt(np.mean((truth - predicted) ** 2))
print(f"{epochs} epochs: training loss {history[-1]:.4f}; on {len(test)} held-out patients "
      f"R^2 {r2:.3f}, RMSE {rmse:.1f}")  # fmt: skip
