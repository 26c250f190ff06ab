"""The classic 2-2-2 worked example: one step traced as the chain rule, then 10,000 more.

Run:  python examples/worked_example.py [--quick]
"""

import argparse

import fastbp as fb
from fastbp.classic import WORKED_T, WORKED_X, worked_network

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="1,000 updates instead of 10,000")
updates = 1_000 if parser.parse_args().quick else 10_000

net = (
    worked_network()
)  # sigmoid everywhere, W1 = [[.15, .25], [.2, .3]], W2 = [[.4, .5], [.45, .55]]
step = fb.trace(net, WORKED_X[0], WORKED_T[0], learning_rate=0.5, train_biases=False)
print(step)

history = net.train(
    WORKED_X, WORKED_T, epochs=updates, batch_size=1, learning_rate=0.5, train_biases=False
)
o1, o2 = net.predict(WORKED_X)[0]
print(f"\nafter {updates:,} updates: total error {history[-1]:.3e}, outputs {o1:.6f} {o2:.6f}")
