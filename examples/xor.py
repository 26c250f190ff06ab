"""XOR with a 2-5-1 sigmoid network and online updates, the tutorial's second example.

Run:  python examples/xor.py [--quick] [--plot curve.png]
"""

import argparse

import numpy as np

import fastbp as fb

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="fewer epochs")
parser.add_argument("--plot", metavar="PNG", help="save the learning curve (needs matplotlib)")
args = parser.parse_args()

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
Y = np.array([[0], [1], [1], [0]], dtype=float)

net = fb.Network([2, 5, 1], seed=1)
history = net.train(
    X, Y, epochs=3000 if args.quick else 5000, batch_size=1, learning_rate=0.5, seed=1
)
outputs = net.predict(X)[:, 0]
for x, o in zip(X, outputs):
    print(f"{x.astype(int)} -> {o:.3f}")
print(f"{int(np.sum((outputs > 0.5) == (Y[:, 0] > 0.5)))}/4 correct, final loss {history[-1]:.2e}")
if args.plot:
    fb.plot.learning_curve(history, args.plot, title="XOR, 2-5-1 network")
    print(f"saved {args.plot}")
